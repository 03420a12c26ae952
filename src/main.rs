//! The `lossbench` command-line front end: all logic lives in the library.

use std::process::ExitCode;

fn main() -> ExitCode {
    lossbench::train::tune_allocator();
    match lossbench::cli::run() {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("error: {err:#}");
            ExitCode::from(lossbench::error::exit_code(&err))
        }
    }
}
