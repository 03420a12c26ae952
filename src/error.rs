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

/// `text` cut to at most `max` bytes (at a character boundary), with a note of what was cut, so
/// that a gigabyte-long CSV cell or message is not echoed whole.
pub fn truncate(text: &str, max: usize) -> String {
    if text.len() <= max {
        return text.to_string();
    }
    let mut end = max;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}… ({} bytes in all)", &text[..end], text.len())
}

thread_local! {
    static QUIET_PANICS: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
}

/// Run `f`, turning a panic into `Err(message)` without the default hook's report on stderr
/// (the caller reports it as an error of its own: a failed run, a corrupt file).
pub fn catch_quietly<R>(f: impl FnOnce() -> R) -> std::result::Result<R, String> {
    static HOOK: std::sync::Once = std::sync::Once::new();
    HOOK.call_once(|| {
        let default = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            if !QUIET_PANICS.with(|q| q.get()) {
                default(info);
            }
        }));
    });
    let was = QUIET_PANICS.with(|q| q.replace(true));
    let outcome = std::panic::catch_unwind(std::panic::AssertUnwindSafe(f));
    QUIET_PANICS.with(|q| q.set(was));
    outcome.map_err(|panic| {
        panic
            .downcast_ref::<String>()
            .cloned()
            .or_else(|| panic.downcast_ref::<&str>().map(|s| s.to_string()))
            .unwrap_or_else(|| "unknown panic".into())
    })
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn truncation_and_quiet_panics() {
        assert_eq!(truncate("abc", 3), "abc");
        assert_eq!(truncate("aé", 2), "a… (3 bytes in all)");
        let caught = catch_quietly(|| -> u8 { panic!("boom {}", 1) });
        assert_eq!(caught, Err("boom 1".to_string()));
        assert_eq!(catch_quietly(|| 5), Ok(5));
    }
}
