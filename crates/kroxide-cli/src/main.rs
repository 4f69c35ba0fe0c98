//! The `kroxide` binary.

fn main() -> std::process::ExitCode {
    kroxide_cli::main()
}
