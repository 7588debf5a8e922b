//! A self-signed certificate for `localhost` and 127.0.0.1 (how it was made: `data/README.md`),
//! for HTTPS servers in tests and benches, and what a client needs to trust it.

use std::sync::Arc;

/// The certificate, DER-encoded: a client's extra root.
pub const CERTIFICATE: &[u8] = include_bytes!("../data/localhost-cert.der");
/// Its PKCS#8 private key, DER-encoded. Public by being in the repository: trusted nowhere else.
const KEY: &[u8] = include_bytes!("../data/localhost-key.der");

/// A TLS acceptor serving [`CERTIFICATE`], on the workspace's one crypto provider.
pub fn acceptor() -> tokio_rustls::TlsAcceptor {
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .expect("aws-lc-rs offers TLS 1.2 and 1.3")
        .with_no_client_auth()
        .with_single_cert(
            vec![CERTIFICATE.to_vec().into()],
            rustls::pki_types::PrivateKeyDer::try_from(KEY.to_vec())
                .expect("data/localhost-key.der is a PKCS#8 key"),
        )
        .expect("data/localhost-cert.der matches its key");
    tokio_rustls::TlsAcceptor::from(Arc::new(config))
}

/// A PEM file of the system's root certificates (Debian's bundle, when there is one) and
/// [`CERTIFICATE`], at `path`: for `SSL_CERT_FILE`, through which a child process's
/// platform verifier trusts the test servers and loads as many roots as in production.
pub fn write_roots(path: &std::path::Path) {
    use base64::Engine as _;
    let mut pem = std::fs::read_to_string("/etc/ssl/certs/ca-certificates.crt").unwrap_or_default();
    let encoded = base64::engine::general_purpose::STANDARD.encode(CERTIFICATE);
    pem.push_str("-----BEGIN CERTIFICATE-----\n");
    for line in encoded.as_bytes().chunks(64) {
        pem.push_str(std::str::from_utf8(line).expect("base64 is ASCII"));
        pem.push('\n');
    }
    pem.push_str("-----END CERTIFICATE-----\n");
    std::fs::write(path, pem).expect("cannot write the roots' PEM file");
}
