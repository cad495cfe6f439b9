use clap::Parser;

fn main() -> std::process::ExitCode {
    let cli = skjold::cli::Cli::parse();
    match skjold::cli::run(cli) {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            std::process::ExitCode::FAILURE
        }
    }
}
