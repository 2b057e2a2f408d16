//! A check of the protobuf wire format at the top level of a model, before
//! decoding. rust-protobuf stops reading at the end of its input even inside
//! a field whose declared length runs past it, so a truncated file would
//! decode as a partial model and fail later with a misleading message.

use crate::{Error, Result};

/// Fails if a top-level field of `bytes` ends past the end of the data.
/// Other malformations are left to the decoder.
pub fn check_complete(bytes: &[u8]) -> Result<()> {
    let truncated = |what: String| Error::InvalidModel(format!("the file is truncated ({what})"));
    let mut pos = 0usize;
    while pos < bytes.len() {
        let Some((key, n)) = varint(bytes, pos) else { return Err(truncated(format!("cut inside a field key at byte {pos}"))) };
        pos += n;
        let field = key >> 3;
        let len = match key & 7 {
            0 => match varint(bytes, pos) {
                Some((_, n)) => n as u64,
                None => return Err(truncated(format!("field {field} cut at byte {pos}"))),
            },
            1 => 8,
            2 => match varint(bytes, pos) {
                Some((len, n)) => {
                    pos += n;
                    len
                }
                None => return Err(truncated(format!("length of field {field} cut at byte {pos}"))),
            },
            5 => 4,
            // Group start and end markers carry nothing themselves.
            3 | 4 => 0,
            _ => return Ok(()),
        };
        let remaining = (bytes.len() - pos) as u64;
        if len > remaining {
            return Err(truncated(format!("field {field} declares {len} bytes, {remaining} remain")));
        }
        pos += len as usize;
    }
    Ok(())
}

/// A base-128 varint at `pos`: its value and its length in bytes; `None`
/// if the data ends first (or it is longer than ten bytes).
fn varint(bytes: &[u8], pos: usize) -> Option<(u64, usize)> {
    let mut value = 0u64;
    for (i, &b) in bytes.get(pos..)?.iter().take(10).enumerate() {
        value |= u64::from(b & 0x7F).checked_shl(7 * i as u32).unwrap_or(0);
        if b & 0x80 == 0 {
            return Some((value, i + 1));
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn complete_messages_pass() {
        // Field 1 varint 8, field 7 with 3 bytes, field 5 fixed32.
        assert!(check_complete(&[0x08, 0x08, 0x3A, 3, 1, 2, 3, 0x2D, 0, 0, 0, 0]).is_ok());
        assert!(check_complete(&[]).is_ok());
    }

    #[test]
    fn truncated_messages_fail() {
        let full = [0x08, 0x96, 0x01, 0x3A, 3, 1, 2, 3];
        for cut in [2, 5, 6, 7] {
            assert!(check_complete(&full[..cut]).is_err(), "cut at {cut}");
        }
        assert!(check_complete(&[0x3A, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0x01]).is_err());
        // After an (empty) group of an unknown field 14.
        assert!(check_complete(&[0x73, 0x74, 0x3A, 5, 1]).is_err());
    }
}
