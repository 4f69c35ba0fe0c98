//! The `kroxide` binary.

fn main() -> std::process::ExitCode {
    kroxide::cli::main()
}
