//! The `partner` binary: `partner serve [--migrate]` or `partner migrate`.

fn main() -> std::process::ExitCode {
    fallwerk_partner::SERVICE.main()
}
