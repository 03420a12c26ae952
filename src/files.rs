//! Reading the files a user points lossbench at: regular files only, of bounded size, so a FIFO,
//! `/dev/zero` or a folder given as a recipe or dataset is an error instead of a hang or an
//! unbounded read.

use std::io::{Error, ErrorKind, Read};
use std::path::Path;

/// Largest recipe file: recipes are a few kilobytes; a list of a million seeds is about 8 MB.
pub const MAX_RECIPE_BYTES: u64 = 64 << 20;
/// Largest dataset file (CSV or Parquet) read into memory.
pub const MAX_DATA_BYTES: u64 = 2 << 30;
/// Largest JSON input of `losses eval`.
pub const MAX_JSON_BYTES: u64 = 256 << 20;
/// Largest weights file read back (2^28 weights per layer, a few layers, f64).
pub const MAX_WEIGHTS_BYTES: u64 = 16 << 30;

/// The bytes of the regular file at `path`, refusing anything else and anything over `limit`.
pub fn read_bounded(path: &Path, limit: u64) -> std::io::Result<Vec<u8>> {
    // Opened non-blocking: opening a FIFO for reading would otherwise wait for a writer.
    let mut options = std::fs::OpenOptions::new();
    options.read(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::custom_flags(&mut options, libc::O_NONBLOCK);
    let file = options.open(path)?;
    let meta = file.metadata()?;
    if !meta.is_file() {
        let what = if meta.is_dir() { "a folder" } else { "not a regular file (a pipe, socket or device)" };
        return Err(Error::new(ErrorKind::InvalidInput, format!("{what}; lossbench reads regular files only")));
    }
    if meta.len() > limit {
        return Err(too_large(meta.len(), limit));
    }
    let mut bytes = Vec::with_capacity(meta.len() as usize);
    file.take(limit + 1).read_to_end(&mut bytes)?;
    if bytes.len() as u64 > limit {
        return Err(too_large(bytes.len() as u64, limit));
    }
    Ok(bytes)
}

/// Like [`read_bounded`], as UTF-8 text.
pub fn read_text(path: &Path, limit: u64) -> std::io::Result<String> {
    String::from_utf8(read_bounded(path, limit)?).map_err(|e| {
        Error::new(ErrorKind::InvalidData, format!("not UTF-8 text (invalid byte at offset {})", e.utf8_error().valid_up_to()))
    })
}

fn too_large(len: u64, limit: u64) -> Error {
    Error::new(ErrorKind::InvalidInput, format!("the file is {} and the limit is {}", human_bytes(len as f64), human_bytes(limit as f64)))
}

/// `1.5 GiB`, `64 MiB`, `512 B`.
pub fn human_bytes(bytes: f64) -> String {
    const UNITS: [&str; 6] = ["B", "KiB", "MiB", "GiB", "TiB", "PiB"];
    let mut v = bytes;
    let mut unit = 0;
    while v >= 1024.0 && unit < UNITS.len() - 1 {
        v /= 1024.0;
        unit += 1;
    }
    if unit == 0 {
        format!("{v:.0} B")
    } else {
        format!("{v:.1} {}", UNITS[unit])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn regular_files_only_and_bounded() {
        let dir = tempfile::tempdir().unwrap();
        let f = dir.path().join("a.txt");
        std::fs::write(&f, "hello").unwrap();
        assert_eq!(read_text(&f, 5).unwrap(), "hello");
        let e = read_text(&f, 4).unwrap_err().to_string();
        assert!(e.contains("5 B") && e.contains("limit is 4 B"), "{e}");
        let e = read_bounded(dir.path(), 10).unwrap_err().to_string();
        assert!(e.contains("a folder"), "{e}");
        let e = read_bounded(Path::new("/dev/zero"), 10).unwrap_err().to_string();
        assert!(e.contains("not a regular file"), "{e}");
        std::fs::write(&f, [0xff, 0xfe]).unwrap();
        assert!(read_text(&f, 10).unwrap_err().to_string().contains("not UTF-8"));
        assert_eq!(human_bytes(1536.0), "1.5 KiB");
    }
}
