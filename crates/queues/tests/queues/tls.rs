//! `rediss://` against a real redis-server serving TLS with a self-signed certificate (testkit's,
//! for localhost), as Heroku's Redis does: refused unless the URL says `ssl_cert_reqs=none`.

use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use autoscaled_queues::{Backend, Error, Reader};
use base64::Engine as _;
use chrono::Utc;
use secret::Secret;

/// testkit's key for its certificate (testkit keeps it private to its own acceptor).
const KEY: &[u8] = include_bytes!("../../../testkit/data/localhost-key.der");

/// A redis-server of this test's own, serving TLS only, stopped on drop.
struct TlsRedis {
    child: Child,
    port: u16,
    _dir: tempfile::TempDir,
}

fn pem(label: &str, der: &[u8]) -> String {
    let encoded = base64::engine::general_purpose::STANDARD.encode(der);
    let lines: Vec<&str> = encoded
        .as_bytes()
        .chunks(64)
        .map(|line| std::str::from_utf8(line).expect("base64 is ASCII"))
        .collect();
    format!(
        "-----BEGIN {label}-----\n{}\n-----END {label}-----\n",
        lines.join("\n")
    )
}

impl TlsRedis {
    fn start() -> Self {
        let dir = tempfile::tempdir().expect("a temporary directory");
        let cert = dir.path().join("cert.pem");
        let key = dir.path().join("key.pem");
        std::fs::write(&cert, pem("CERTIFICATE", testkit::tls::CERTIFICATE)).unwrap();
        std::fs::write(&key, pem("PRIVATE KEY", KEY)).unwrap();
        let port = testkit::closed_port();
        let child = Command::new("redis-server")
            .args([
                "--port",
                "0",
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
            ])
            .args(["--tls-port", &port.to_string(), "--tls-auth-clients", "no"])
            .arg("--tls-cert-file")
            .arg(&cert)
            .arg("--tls-key-file")
            .arg(&key)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect(
                "cannot run redis-server: scripts/test installs it (Debian package redis-server)",
            );
        let deadline = Instant::now() + Duration::from_secs(30);
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(
                Instant::now() < deadline,
                "redis-server did not listen on {port} within 30 s"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
        Self {
            child,
            port,
            _dir: dir,
        }
    }
}

impl Drop for TlsRedis {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[tokio::test]
async fn rediss_is_verified_unless_the_url_says_ssl_cert_reqs_none() {
    let server = TlsRedis::start();
    let verified = Secret::new(format!("rediss://127.0.0.1:{}/0", server.port));
    let error = Reader::connect(Backend::Sidekiq, &verified, vec!["default".into()])
        .await
        .unwrap_err();
    assert!(
        matches!(error, Error::Redis { .. }),
        "a self-signed certificate is refused: {error:?}"
    );

    let skipping = Secret::new(format!(
        "rediss://127.0.0.1:{}/0?ssl_cert_reqs=none",
        server.port
    ));
    let reader = Reader::connect(Backend::Sidekiq, &skipping, vec!["default".into()])
        .await
        .unwrap_or_else(|error| panic!("ssl_cert_reqs=none: {error:?}"));
    let reading = reader.read(Utc::now()).await.unwrap();
    assert_eq!(reading.queues[0].depth, 0);
}
