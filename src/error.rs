//! Errors and exit codes.
//!
//! Exit codes: 0 success (diverged runs are results, not errors), 1 runtime failure,
//! 2 bad input (recipe, data file, command-line value). Every input error names the place
//! (file, line:column or field path) and what is allowed.

use std::fmt;

/// lossbench's error type. `Input` errors exit with code 2, everything else with 1.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The user's input (recipe, data file, flag) is wrong; the message says where and how to fix it.
    #[error("{0}")]
    Input(String),
    /// A tensor operation failed.
    #[error(transparent)]
    Candle(#[from] candle_core::Error),
    /// Reading or writing a file failed.
    #[error("{context}")]
    Io {
        context: String,
        #[source]
        source: std::io::Error,
    },
    /// Anything else that went wrong while running.
    #[error("{0}")]
    Runtime(String),
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

impl Error {
    pub fn input(msg: impl fmt::Display) -> Self {
        Error::Input(msg.to_string())
    }
    pub fn runtime(msg: impl fmt::Display) -> Self {
        Error::Runtime(msg.to_string())
    }
    pub fn io(context: impl fmt::Display, source: std::io::Error) -> Self {
        Error::Io { context: context.to_string(), source }
    }
    /// Prefix an input error with where it happened (`recipe.yaml: losses[2] (focal)`).
    pub fn at(self, place: impl fmt::Display) -> Self {
        match self {
            Error::Input(msg) => Error::Input(format!("{place}: {msg}")),
            other => other,
        }
    }
}

/// Shorthand for `Err(Error::Input(format!(...)))`.
#[macro_export]
macro_rules! bad_input {
    ($($arg:tt)*) => { return Err($crate::error::Error::Input(format!($($arg)*))) };
}

/// The process exit code for an error chain: 2 when any cause is an input error, else 1.
pub fn exit_code(err: &anyhow::Error) -> u8 {
    let is_input = err
        .chain()
        .any(|cause| matches!(cause.downcast_ref::<Error>(), Some(Error::Input(_))) || cause.downcast_ref::<clap::Error>().is_some());
    if is_input {
        2
    } else {
        1
    }
}
