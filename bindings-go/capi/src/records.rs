//! Lists across the ABI: items each prefixed by a 32-bit little-endian length.

use crate::abi::{Result, TwError};

/// Builds a records buffer.
#[derive(Default)]
pub(crate) struct Writer(Vec<u8>);

impl Writer {
    /// Appends one item.
    pub(crate) fn push(&mut self, item: &[u8]) {
        // Items are header values and names, far below 4 GiB.
        let len = u32::try_from(item.len()).unwrap_or(u32::MAX);
        self.0.extend_from_slice(&len.to_le_bytes());
        self.0.extend_from_slice(&item[..len as usize]);
    }

    /// The buffer.
    pub(crate) fn finish(self) -> Vec<u8> {
        self.0
    }
}

/// Splits a records buffer into its items (borrowed).
pub(crate) fn read(mut buf: &[u8]) -> Result<Vec<&[u8]>> {
    let bad = || TwError::invalid_argument("malformed records: a length runs past the end");
    let mut out = Vec::new();
    while !buf.is_empty() {
        let (len, rest) = buf.split_first_chunk::<4>().ok_or_else(bad)?;
        let len = u32::from_le_bytes(*len) as usize;
        if rest.len() < len {
            return Err(bad());
        }
        let (item, rest) = rest.split_at(len);
        out.push(item);
        buf = rest;
    }
    Ok(out)
}

/// Splits a records buffer into UTF-8 strings.
pub(crate) fn read_strings(buf: &[u8]) -> Result<Vec<&str>> {
    read(buf)?
        .into_iter()
        .map(|b| {
            std::str::from_utf8(b).map_err(|_| TwError::invalid_argument("a record is not UTF-8"))
        })
        .collect()
}
