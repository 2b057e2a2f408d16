//! A check of the protobuf wire format at the top level of a model (or
//! tensor) file, before decoding. rust-protobuf stops reading at the end of
//! its input even inside a field whose declared length runs past it, so a
//! truncated file would decode as a partial model and fail later with a
//! misleading message.

/// Where a top-level field of `bytes` runs past the end of the data, if one
/// does. Other malformations are left to the decoder.
pub fn truncation(bytes: &[u8]) -> Option<String> {
    let mut pos = 0usize;
    while pos < bytes.len() {
        let (key, n) = match varint(bytes, pos) {
            Varint::Value(v, n) => (v, n),
            Varint::Cut => return Some(format!("cut inside a field key at byte {pos}")),
            Varint::Overlong => return None,
        };
        pos += n;
        let field = key >> 3;
        let len = match key & 7 {
            0 => match varint(bytes, pos) {
                Varint::Value(_, n) => n as u64,
                Varint::Cut => return Some(format!("field {field} cut at byte {pos}")),
                Varint::Overlong => return None,
            },
            1 => 8,
            2 => match varint(bytes, pos) {
                Varint::Value(len, n) => {
                    pos += n;
                    len
                }
                Varint::Cut => return Some(format!("length of field {field} cut at byte {pos}")),
                Varint::Overlong => return None,
            },
            5 => 4,
            // Group start and end markers carry nothing themselves.
            3 | 4 => 0,
            _ => return None,
        };
        let remaining = (bytes.len() - pos) as u64;
        if len > remaining {
            return Some(format!("field {field} declares {len} bytes, {remaining} remain"));
        }
        pos += len as usize;
    }
    None
}

enum Varint {
    /// The value and its length in bytes.
    Value(u64, usize),
    /// The data ends inside the varint.
    Cut,
    /// More than ten bytes: not a varint.
    Overlong,
}

/// The base-128 varint at `pos`.
fn varint(bytes: &[u8], pos: usize) -> Varint {
    let rest = bytes.get(pos..).unwrap_or_default();
    let mut value = 0u64;
    for (i, &b) in rest.iter().take(10).enumerate() {
        value |= u64::from(b & 0x7F).checked_shl(7 * i as u32).unwrap_or(0);
        if b & 0x80 == 0 {
            return Varint::Value(value, i + 1);
        }
    }
    if rest.len() < 10 {
        Varint::Cut
    } else {
        Varint::Overlong
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn complete_messages_pass() {
        // Field 1 varint 8, field 7 with 3 bytes, field 5 fixed32.
        assert!(truncation(&[0x08, 0x08, 0x3A, 3, 1, 2, 3, 0x2D, 0, 0, 0, 0]).is_none());
        assert!(truncation(&[]).is_none());
        // Malformed, not truncated: left to the decoder.
        assert!(truncation(&[0xFF; 12]).is_none());
    }

    #[test]
    fn truncated_messages_fail() {
        let full = [0x08, 0x96, 0x01, 0x3A, 3, 1, 2, 3];
        for cut in [2, 5, 6, 7] {
            assert!(truncation(&full[..cut]).is_some(), "cut at {cut}");
        }
        assert!(truncation(&[0x3A, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0x01]).is_some());
        // After an (empty) group of an unknown field 14.
        assert!(truncation(&[0x73, 0x74, 0x3A, 5, 1]).is_some());
    }
}
