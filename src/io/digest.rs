//! Short content digests for cache keys: a cached result (the estimator, a metric) is reused only
//! when everything it was computed from hashes the same. Not cryptographic: they guard against
//! stale results, not against tampering.
use crate::error::{Error, Result};
use std::io::Read;
use std::path::Path;

/// FNV-1a (64 bit) of `text`, as 16 hex digits.
pub fn text(text: &str) -> String {
    format!("{:016x}", fnv(0xcbf2_9ce4_8422_2325, text.as_bytes()))
}

fn fnv(mut h: u64, bytes: &[u8]) -> u64 {
    for &b in bytes {
        h = (h ^ b as u64).wrapping_mul(0x100_0000_01b3);
    }
    h
}

/// A file's content: CRC-32C (hardware-accelerated, ≈ GB/s) and length, as hex. Weights files
/// replaced in place, or rewritten with other values, get another digest.
pub fn file(path: &Path) -> Result<String> {
    let mut f = std::fs::File::open(path).map_err(|e| Error::io(path, e))?;
    let (mut crc, mut len, mut buf) = (0u32, 0u64, vec![0u8; 1 << 20]);
    loop {
        let n = f.read(&mut buf).map_err(|e| Error::io(path, e))?;
        if n == 0 {
            break;
        }
        crc = crc32c::crc32c_append(crc, &buf[..n]);
        len += n as u64;
    }
    Ok(format!("{crc:08x}{len:x}"))
}
