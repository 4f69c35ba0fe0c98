//! `kroxide-testserver --kubeconfig FILE` serves until stopped.

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

#[test]
fn the_binary_serves_and_writes_a_kubeconfig() {
    let dir = std::env::temp_dir().join(format!("kroxide-testserver-bin-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let kc = dir.join("kubeconfig");
    let mut child = Command::new(env!("CARGO_BIN_EXE_kroxide-testserver"))
        .arg("--kubeconfig")
        .arg(&kc)
        .stdout(Stdio::null())
        .spawn()
        .unwrap();
    let t0 = Instant::now();
    while !kc.exists() && t0.elapsed() < Duration::from_secs(10) {
        std::thread::sleep(Duration::from_millis(50));
    }
    let out = Command::new("kubectl")
        .args(["get", "namespaces", "-o", "name"])
        .env("KUBECONFIG", &kc)
        .env("HOME", &dir)
        .output()
        .unwrap();
    let _ = child.kill();
    let _ = child.wait();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    // A fresh server has the namespaces every cluster starts with.
    let names = String::from_utf8_lossy(&out.stdout).to_string();
    assert!(
        names.contains("namespace/default") && names.contains("namespace/kube-system"),
        "{names}"
    );
    let usage = Command::new(env!("CARGO_BIN_EXE_kroxide-testserver"))
        .output()
        .unwrap();
    assert_eq!(usage.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&usage.stderr).contains("--kubeconfig FILE is required"));
}
