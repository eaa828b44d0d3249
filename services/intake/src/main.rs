//! The `intake` binary: `intake serve [--migrate]` or `intake migrate`.

fn main() -> std::process::ExitCode {
    fallwerk_intake::SERVICE.main()
}
