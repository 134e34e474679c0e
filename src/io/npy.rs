//! The `.npy` header (NumPy's format 1.0–3.0), read before libtorch reads the data: libtorch trusts
//! the header and reads past the end of a truncated file, so a cut-off map would be evaluated as
//! whatever memory follows. Checking that the file holds exactly header + shape × item size bytes
//! turns that into an error naming the file.
use crate::error::{Error, Result};
use std::io::Read;
use std::path::Path;

/// The shape and item size the header declares, after checking the file's length against them.
pub fn check(path: &Path) -> Result<(Vec<i64>, usize)> {
    let bad = |why: String| Error::file(path, format!("not a valid .npy file: {why}"));
    let mut f = std::fs::File::open(path).map_err(|e| Error::io(path, e))?;
    let file_len = f.metadata().map_err(|e| Error::io(path, e))?.len();
    let mut head = [0u8; 12];
    f.read_exact(&mut head[..10]).map_err(|_| bad("shorter than its header".into()))?;
    if &head[..6] != b"\x93NUMPY" {
        return Err(bad("no NUMPY magic".into()));
    }
    let (header_len, prefix) = match head[6] {
        1 => (u16::from_le_bytes([head[8], head[9]]) as usize, 10usize),
        2 | 3 => {
            f.read_exact(&mut head[10..12]).map_err(|_| bad("shorter than its header".into()))?;
            (u32::from_le_bytes([head[8], head[9], head[10], head[11]]) as usize, 12usize)
        }
        v => return Err(bad(format!("unknown format version {v}"))),
    };
    let mut dict = vec![0u8; header_len];
    f.read_exact(&mut dict).map_err(|_| bad("shorter than its header".into()))?;
    let dict = String::from_utf8_lossy(&dict);
    let item = item_size(&dict).ok_or_else(|| bad(format!("unsupported dtype in {}", dict.trim())))?;
    let shape = shape(&dict).ok_or_else(|| bad(format!("no readable shape in {}", dict.trim())))?;
    let elements: u64 = shape.iter().map(|&d| d as u64).product();
    let want = (prefix + header_len) as u64 + elements * item as u64;
    if file_len != want {
        return Err(bad(format!(
            "the header declares shape {shape:?} ({want} bytes in all), the file has {file_len} bytes (truncated or padded)"
        )));
    }
    Ok((shape, item))
}

/// Bytes per element of the header's `'descr'` (`'<f4'`, `'|u1'`, …).
fn item_size(dict: &str) -> Option<usize> {
    let at = dict.find("'descr'")?;
    let rest = &dict[at + 7..];
    let start = rest.find('\'')? + 1;
    let end = start + rest[start..].find('\'')?;
    let descr = &rest[start..end];
    let digits: String = descr.chars().skip_while(|c| !c.is_ascii_digit()).collect();
    digits.parse().ok()
}

/// The header's `'shape'` tuple, e.g. `(3, 64, 64)` or `()`.
fn shape(dict: &str) -> Option<Vec<i64>> {
    let at = dict.find("'shape'")?;
    let rest = &dict[at..];
    let (open, close) = (rest.find('(')?, rest.find(')')?);
    rest[open + 1..close]
        .split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(|s| s.trim_end_matches('L').parse::<i64>().ok().filter(|&d| d >= 0))
        .collect()
}
