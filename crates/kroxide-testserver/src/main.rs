//! `kroxide-testserver --kubeconfig FILE`: serves the test API until stopped.
//! `kroxide-testserver kubelet [...]`: runs the kubelet simulator against a
//! cluster until stopped.

use std::time::Duration;

const USAGE: &str = "usage: kroxide-testserver --kubeconfig FILE [--listen 127.0.0.1:PORT]
       kroxide-testserver kubelet [--kubeconfig FILE] [--ready-after DURATION] [--namespace NS]...

Serves an in-memory Kubernetes API for tests until stopped, and writes a kubeconfig for it.

kubelet: plays the kubelet (and the load balancer and volume provisioners) for a real
control plane that has no nodes, until Ctrl-C: Pods become Running and Ready (Pods of
Jobs Succeeded), LoadBalancer Services and Ingresses get an address, Pending
PersistentVolumeClaims get a PersistentVolume. See the kroxide_testserver::kubelet docs.";

const KUBELET_USAGE: &str = "usage: kroxide-testserver kubelet [--kubeconfig FILE] [--ready-after DURATION] [--namespace NS]...

Runs the kubelet simulator against the cluster of FILE (default: $KUBECONFIG, then
~/.kube/config, then the in-cluster config) until Ctrl-C.
  --kubeconfig FILE       the cluster to act on
  --ready-after DURATION  how long after it first sees an object it acts on it:
                          100ms, 2s, 1m, or plain seconds (0.5); default 100ms
  --namespace NS, -n NS   act in NS only (repeatable); default: all namespaces
A Pod annotated kroxide.dev/kubelet: never-ready starts but never becomes ready;
kroxide.dev/kubelet: fail has its containers exit with code 1.";

#[tokio::main]
async fn main() -> std::process::ExitCode {
    let args: Vec<String> = std::env::args().collect();
    if args.get(1).map(String::as_str) == Some("kubelet") {
        return kubelet(&args[2..]).await;
    }
    let mut kubeconfig = None;
    let mut addr = "127.0.0.1:0".to_string();
    let mut i = 1;
    while i < args.len() {
        match args[i].as_str() {
            "--kubeconfig" if i + 1 < args.len() => {
                kubeconfig = Some(args[i + 1].clone());
                i += 2;
            }
            "--listen" if i + 1 < args.len() => {
                addr = args[i + 1].clone();
                i += 2;
            }
            "-h" | "--help" => {
                println!("{USAGE}");
                return std::process::ExitCode::SUCCESS;
            }
            other => {
                eprintln!("error: unexpected argument {other:?}; see --help");
                return std::process::ExitCode::from(2);
            }
        }
    }
    let Some(kubeconfig) = kubeconfig else {
        eprintln!("error: --kubeconfig FILE is required");
        return std::process::ExitCode::from(2);
    };
    let server = match kroxide_testserver::TestServer::start_on(&addr).await {
        Ok(s) => s,
        Err(e) => {
            eprintln!("error: cannot listen on {addr}: {e}");
            return std::process::ExitCode::from(1);
        }
    };
    if let Err(e) = server.write_kubeconfig(&kubeconfig) {
        eprintln!("error: cannot write {kubeconfig}: {e}");
        return std::process::ExitCode::from(1);
    }
    println!(
        "serving the Kubernetes API on {} (kubeconfig: {kubeconfig}); Ctrl-C to stop",
        server.url()
    );
    let _ = tokio::signal::ctrl_c().await;
    std::process::ExitCode::SUCCESS
}

/// `kroxide-testserver kubelet ...`.
async fn kubelet(args: &[String]) -> std::process::ExitCode {
    let mut kubeconfig = None;
    let mut config = kroxide_testserver::KubeletConfig::default();
    let mut namespaces = Vec::new();
    let mut i = 0;
    while i < args.len() {
        let value = args.get(i + 1);
        match (args[i].as_str(), value) {
            ("--kubeconfig", Some(v)) => kubeconfig = Some(v.clone()),
            ("--ready-after", Some(v)) => {
                match parse_duration(v) {
                    Some(d) => config.ready_after = d,
                    None => {
                        eprintln!("error: --ready-after {v:?}: expected a duration like 100ms, 2s, 1m or 0.5");
                        return std::process::ExitCode::from(2);
                    }
                }
            }
            ("--namespace" | "-n", Some(v)) => namespaces.push(v.clone()),
            ("-h" | "--help", _) => {
                println!("{KUBELET_USAGE}");
                return std::process::ExitCode::SUCCESS;
            }
            (flag @ ("--kubeconfig" | "--ready-after" | "--namespace" | "-n"), None) => {
                eprintln!("error: {flag} needs a value; see kroxide-testserver kubelet --help");
                return std::process::ExitCode::from(2);
            }
            (other, _) => {
                eprintln!(
                    "error: unexpected argument {other:?}; see kroxide-testserver kubelet --help"
                );
                return std::process::ExitCode::from(2);
            }
        }
        i += 2;
    }
    if !namespaces.is_empty() {
        config.namespaces = Some(namespaces);
    }
    let (client, url) = match client(kubeconfig.as_deref()).await {
        Ok(c) => c,
        Err(e) => {
            eprintln!("error: no cluster: {e}");
            return std::process::ExitCode::from(1);
        }
    };
    let scope = match &config.namespaces {
        Some(n) => format!("namespaces {}", n.join(", ")),
        None => "all namespaces".to_string(),
    };
    println!(
        "kubelet simulator: acting on {scope} of {url} after {:?}; Ctrl-C to stop",
        config.ready_after
    );
    let kubelet = kroxide_testserver::Kubelet::start(client, config);
    let _ = tokio::signal::ctrl_c().await;
    println!("{:?}", kubelet.stats());
    kubelet.stop();
    std::process::ExitCode::SUCCESS
}

/// A client for the cluster, and its URL.
async fn client(kubeconfig: Option<&str>) -> Result<(kube::Client, String), String> {
    let config = match kubeconfig {
        Some(path) => {
            let kc =
                kube::config::Kubeconfig::read_from(path).map_err(|e| format!("{path}: {e}"))?;
            kube::Config::from_custom_kubeconfig(kc, &Default::default())
                .await
                .map_err(|e| format!("{path}: {e}"))?
        }
        None => kube::Config::infer().await.map_err(|e| e.to_string())?,
    };
    let url = config.cluster_url.to_string();
    Ok((
        kube::Client::try_from(config).map_err(|e| e.to_string())?,
        url,
    ))
}

/// `100ms`, `2s`, `1m`, or plain seconds (`0.5`).
fn parse_duration(s: &str) -> Option<Duration> {
    let s = s.trim();
    let (number, unit) = match s.find(|c: char| c.is_ascii_alphabetic()) {
        Some(i) => s.split_at(i),
        None => (s, "s"),
    };
    let n: f64 = number.trim().parse().ok()?;
    let scale = match unit {
        "ms" => 0.001,
        "s" => 1.0,
        "m" => 60.0,
        _ => return None,
    };
    Duration::try_from_secs_f64(n * scale).ok()
}

#[cfg(test)]
mod tests {
    use super::parse_duration;
    use std::time::Duration;

    #[test]
    fn durations_parse() {
        assert_eq!(parse_duration("100ms"), Some(Duration::from_millis(100)));
        assert_eq!(parse_duration("2s"), Some(Duration::from_secs(2)));
        assert_eq!(parse_duration("0.5"), Some(Duration::from_millis(500)));
        assert_eq!(parse_duration("1m"), Some(Duration::from_secs(60)));
        assert_eq!(parse_duration("0"), Some(Duration::ZERO));
        assert_eq!(parse_duration("-1s"), None);
        assert_eq!(parse_duration("fast"), None);
        assert_eq!(parse_duration("3h"), None);
    }
}
