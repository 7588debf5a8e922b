//! A probe this process cannot make, for want of a file descriptor: a [`LocalFault`], never a
//! down result. Run in a child process whose limit of open files is 64 (set by `ulimit` in `sh`,
//! no unsafe code), so that using them all up leaves this test binary's other tests alone.

use std::process::Command;
use std::time::Duration;

use autoscaled_probe::{Class, LocalFault};

use super::server::{answer, prober, thresholds};

/// Set in the child: it runs the scenario rather than starting another child.
const CHILD: &str = "AUTOSCALED_PROBE_LOCAL_FAULT_CHILD";
const TEST: &str = "probe::local::a_probe_without_a_descriptor_is_a_local_fault_never_down";

#[test]
fn a_probe_without_a_descriptor_is_a_local_fault_never_down() {
    if std::env::var_os(CHILD).is_some() {
        out_of_descriptors();
        return;
    }
    let out = Command::new("sh")
        .args([
            "-c",
            "ulimit -n 64 && exec \"$0\" --exact --nocapture --test-threads 1 \"$1\"",
        ])
        .arg(std::env::current_exe().unwrap())
        .arg(TEST)
        .env(CHILD, "1")
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stdout}\n{stderr}");
    assert!(
        stdout.contains("1 passed"),
        "the child ran no test: {stdout}"
    );
    assert!(
        stdout.contains("local fault: no file descriptor left"),
        "{stdout}"
    );
}

/// The child's part: a fast app, every descriptor taken, a probe, the descriptors given back.
fn out_of_descriptors() {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        let addr = answer(200, Duration::ZERO, "").await;
        let prober = prober(addr, thresholds(2000, 1000, 500));
        assert_eq!(prober.probe().await.unwrap().class, Class::Fast);

        let mut held = Vec::new();
        let exhausted = loop {
            match std::fs::File::open("/dev/null") {
                Ok(file) => held.push(file),
                Err(error) => break error,
            }
            assert!(held.len() <= 64, "the limit of 64 did not hold");
        };
        assert_eq!(exhausted.raw_os_error(), Some(libc::EMFILE), "{exhausted}");

        for _ in 0..3 {
            let fault = prober.probe().await;
            assert_eq!(fault, Err(LocalFault::Descriptors), "{fault:?}");
        }
        println!("local fault: {}", LocalFault::Descriptors);

        drop(held);
        assert_eq!(prober.probe().await.unwrap().class, Class::Fast);
    });
}
