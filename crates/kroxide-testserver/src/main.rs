//! `kroxide-testserver --kubeconfig FILE`: serves the test API until stopped.

#[tokio::main]
async fn main() -> std::process::ExitCode {
    let args: Vec<String> = std::env::args().collect();
    let mut kubeconfig = None;
    let mut addr = "127.0.0.1:0".to_string();
    let mut kro = false;
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
            "--kro" => {
                kro = true;
                i += 1;
            }
            "-h" | "--help" => {
                println!("usage: kroxide-testserver --kubeconfig FILE [--listen 127.0.0.1:PORT] [--kro]\n\nServes an in-memory Kubernetes API for tests until stopped, and writes a kubeconfig for it.\n--kro installs the simulated KRO controller (ResourceGraphDefinitions and their instances).");
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
    server.install_kro(kro);
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
