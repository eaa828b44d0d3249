//! The `case-plan` binary: `case-plan serve [--migrate]` or `case-plan migrate`.

fn main() -> std::process::ExitCode {
    fallwerk_case_plan::SERVICE.main()
}
