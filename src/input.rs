//! Reading input files with a size cap, so that no input can make a command run
//! without end or exhaust memory.
//!
//! Every file llmplan reads (scenarios, models, clusters, GPU profiles, published-run
//! tables, kernel measurements) goes through [`read_text`]. Regular files and pipes
//! (`<(...)`, `/dev/stdin`) are read up to [`MAX_INPUT_BYTES`]; anything larger is an
//! error that says the cap, before the parser sees it. Character and block devices
//! (`/dev/zero`, `/dev/urandom`, a disk), sockets and directories are refused before a
//! byte is read: none of them holds a document.

use std::io::Read;
use std::path::Path;

use crate::error::{Error, Result};

/// Largest input file, bytes (16 MiB). The largest shipped input, the H100 kernel
/// measurements, is under 1 MiB; a scenario is a few hundred bytes.
pub const MAX_INPUT_BYTES: u64 = 16 * 1024 * 1024;

/// Reads `path` as UTF-8 text of at most [`MAX_INPUT_BYTES`].
pub fn read_text(path: &Path) -> Result<String> {
    read_text_capped(path, MAX_INPUT_BYTES)
}

/// [`read_text`] with an explicit cap in bytes.
pub fn read_text_capped(path: &Path, cap: u64) -> Result<String> {
    let shown = path.display().to_string();
    let io = |source: std::io::Error| Error::Io {
        path: shown.clone(),
        source,
    };
    let meta = std::fs::metadata(path).map_err(io)?;
    check_kind(path, &meta)?;
    if meta.is_file() && meta.len() > cap {
        return Err(too_big(path, Some(meta.len()), cap));
    }
    let f = std::fs::File::open(path).map_err(io)?;
    // One byte past the cap tells a pipe that is too long from one that is exactly full.
    let mut bytes = Vec::new();
    f.take(cap + 1).read_to_end(&mut bytes).map_err(io)?;
    if bytes.len() as u64 > cap {
        return Err(too_big(path, None, cap));
    }
    String::from_utf8(bytes).map_err(|e| {
        Error::Usage(format!(
            "{shown}: not UTF-8 text (invalid byte at offset {}); llmplan reads YAML and CSV",
            e.utf8_error().valid_up_to()
        ))
    })
}

#[cfg(unix)]
fn special_kind(meta: &std::fs::Metadata) -> Option<&'static str> {
    use std::os::unix::fs::FileTypeExt;
    let t = meta.file_type();
    if t.is_char_device() {
        Some("a character device")
    } else if t.is_block_device() {
        Some("a block device")
    } else if t.is_socket() {
        Some("a socket")
    } else {
        None
    }
}

#[cfg(not(unix))]
fn special_kind(_meta: &std::fs::Metadata) -> Option<&'static str> {
    None
}

fn check_kind(path: &Path, meta: &std::fs::Metadata) -> Result<()> {
    if meta.is_dir() {
        return Err(Error::Usage(format!(
            "{}: is a directory, not a YAML or CSV file",
            path.display()
        )));
    }
    if let Some(kind) = special_kind(meta) {
        return Err(Error::Usage(format!(
            "{}: is {kind}, not a file; llmplan reads regular files and pipes only",
            path.display()
        )));
    }
    Ok(())
}

fn too_big(path: &Path, len: Option<u64>, cap: u64) -> Error {
    let size = len.map_or("holds more than".to_string(), |n| {
        format!("is {:.1} MiB, over", n as f64 / 1048576.0)
    });
    Error::Usage(format!(
        "{}: {size} the {} MiB limit on input files (a scenario is a few kilobytes)",
        path.display(),
        cap / 1048576
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn caps_and_refuses() {
        let dir = std::env::temp_dir().join(format!("llmplan-input-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let p = dir.join("big.yaml");
        std::fs::write(&p, vec![b'a'; 2000]).unwrap();
        assert!(read_text_capped(&p, 1999).is_err());
        assert_eq!(read_text_capped(&p, 2000).unwrap().len(), 2000);
        assert!(read_text(&dir)
            .unwrap_err()
            .to_string()
            .contains("directory"));
        #[cfg(unix)]
        assert!(read_text(Path::new("/dev/zero"))
            .unwrap_err()
            .to_string()
            .contains("character device"));
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
