//! The W3C `traceparent` header ([Trace Context Level 2, section 3.2]).
//!
//! [Trace Context Level 2, section 3.2]: https://www.w3.org/TR/trace-context-2/#traceparent-header

use crate::error::ErrorCode;
use std::fmt;

/// The length of a version-00 `traceparent` value: `00-<32 hex>-<16 hex>-<2 hex>`.
pub const TRACEPARENT_LEN: usize = 55;
/// The longest value of a future version read: see
/// [`crate::limits::TRACEPARENT_MAX_LEN`].
pub const MAX_LEN: usize = 256;

/// A 16-byte trace id. The all-zero id is invalid and never constructed by parsing.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
pub struct TraceId(pub [u8; 16]);

/// An 8-byte span (parent) id. The all-zero id is invalid and never constructed by parsing.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
pub struct SpanId(pub [u8; 8]);

/// The trace-flags byte as received: every bit is kept, including ones this
/// library does not know; a sender writes only [`TraceFlags::known`].
#[derive(Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct TraceFlags(pub u8);

impl TraceFlags {
    /// Bit 0: the caller may have recorded the trace.
    pub const SAMPLED: TraceFlags = TraceFlags(0x01);
    /// Bit 1 (Level 2): the rightmost 7 bytes of the trace id are random.
    pub const RANDOM: TraceFlags = TraceFlags(0x02);

    /// The flags a sender writes: sampled and random only. W3C Trace Context
    /// Level 2 (trace-flags) has unknown bits set to zero on outgoing
    /// requests, since their meaning may depend on the version.
    pub const fn known(self) -> TraceFlags {
        TraceFlags(self.0 & (Self::SAMPLED.0 | Self::RANDOM.0))
    }

    /// Whether the sampled bit is set.
    pub const fn is_sampled(self) -> bool {
        self.0 & Self::SAMPLED.0 != 0
    }

    /// Whether the Level 2 random-trace-id bit is set.
    pub const fn is_random(self) -> bool {
        self.0 & Self::RANDOM.0 != 0
    }
}

impl fmt::Debug for TraceFlags {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "TraceFlags({:02x})", self.0)
    }
}

/// Why a `traceparent` value was rejected. A receiver that gets any of these
/// starts a new trace, as the W3C recommendation requires.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum TraceParentError {
    /// The value is shorter than 55 characters, or a version-00 value is not exactly 55.
    #[error("traceparent must be {TRACEPARENT_LEN} characters for version 00 (got {0})")]
    WrongLength(usize),
    /// A field is not lowercase hexadecimal of the exact length.
    #[error("traceparent {0} is not {1} lowercase hex characters")]
    InvalidField(&'static str, usize),
    /// A field separator is not `-`.
    #[error("traceparent fields must be separated by '-'")]
    InvalidSeparator,
    /// Version `ff` is forbidden.
    #[error("traceparent version ff is invalid")]
    ForbiddenVersion,
    /// The trace id is all zeros.
    #[error("traceparent trace-id is all zeros")]
    ZeroTraceId,
    /// The parent (span) id is all zeros.
    #[error("traceparent parent-id is all zeros")]
    ZeroSpanId,
    /// A value of a future version is longer than [`MAX_LEN`]; it was not read.
    #[error("traceparent is longer than {MAX_LEN} characters")]
    TooLong,
}

impl TraceParentError {
    /// The stable error code.
    pub const fn code(&self) -> ErrorCode {
        ErrorCode::InvalidTraceParent
    }
}

/// A parsed `traceparent`: the trace id, the parent span id and the flags.
///
/// Values of a version above `00` are read by their version-00 fields and
/// re-emitted as version `00`, as the recommendation requires.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
pub struct TraceParent {
    /// The trace id.
    pub trace_id: TraceId,
    /// The id of the span that sent this context.
    pub span_id: SpanId,
    /// The trace flags.
    pub flags: TraceFlags,
}

impl TraceParent {
    /// Parses a `traceparent` header value. Spaces and tabs around it are
    /// optional whitespace (HTTP OWS), as in the W3C test suite; the length
    /// budget counts them.
    ///
    /// ```
    /// use tracewire::TraceParent;
    /// let tp = TraceParent::parse("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01").unwrap();
    /// assert!(tp.flags.is_sampled());
    /// assert_eq!(tp.to_string(), "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01");
    /// ```
    pub fn parse(value: &str) -> Result<TraceParent, TraceParentError> {
        if value.len() > MAX_LEN {
            return Err(TraceParentError::TooLong);
        }
        let b = value.trim_matches([' ', '\t']).as_bytes();
        if b.len() < TRACEPARENT_LEN {
            return Err(TraceParentError::WrongLength(b.len()));
        }
        let version = hex_byte(b[0], b[1]).ok_or(TraceParentError::InvalidField("version", 2))?;
        if version == 0xff {
            return Err(TraceParentError::ForbiddenVersion);
        }
        if version == 0 && b.len() != TRACEPARENT_LEN {
            return Err(TraceParentError::WrongLength(b.len()));
        }
        // A future version may append fields, always after a '-'.
        if b.len() > TRACEPARENT_LEN && b[TRACEPARENT_LEN] != b'-' {
            return Err(TraceParentError::InvalidSeparator);
        }
        if b[2] != b'-' || b[35] != b'-' || b[52] != b'-' {
            return Err(TraceParentError::InvalidSeparator);
        }
        let mut trace_id = [0u8; 16];
        decode_hex(&b[3..35], &mut trace_id)
            .ok_or(TraceParentError::InvalidField("trace-id", 32))?;
        let mut span_id = [0u8; 8];
        decode_hex(&b[36..52], &mut span_id)
            .ok_or(TraceParentError::InvalidField("parent-id", 16))?;
        let flags =
            hex_byte(b[53], b[54]).ok_or(TraceParentError::InvalidField("trace-flags", 2))?;
        if trace_id == [0; 16] {
            return Err(TraceParentError::ZeroTraceId);
        }
        if span_id == [0; 8] {
            return Err(TraceParentError::ZeroSpanId);
        }
        Ok(TraceParent {
            trace_id: TraceId(trace_id),
            span_id: SpanId(span_id),
            flags: TraceFlags(flags),
        })
    }

    /// Writes the version-00 form into a fixed buffer, without allocating.
    /// Only the known flags are written ([`TraceFlags::known`]).
    pub fn encode(&self) -> [u8; TRACEPARENT_LEN] {
        let mut out = [b'-'; TRACEPARENT_LEN];
        out[0] = b'0';
        out[1] = b'0';
        encode_hex(&self.trace_id.0, &mut out[3..35]);
        encode_hex(&self.span_id.0, &mut out[36..52]);
        encode_hex(&[self.flags.known().0], &mut out[53..55]);
        out
    }
}

impl fmt::Display for TraceParent {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let buf = self.encode();
        // The buffer holds only ASCII hex digits and dashes.
        f.write_str(std::str::from_utf8(&buf).map_err(|_| fmt::Error)?)
    }
}

impl std::str::FromStr for TraceParent {
    type Err = TraceParentError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        TraceParent::parse(s)
    }
}

macro_rules! hex_id {
    ($ty:ident, $len:expr, $name:literal) => {
        impl $ty {
            /// Whether every byte is zero (an invalid id).
            pub fn is_zero(&self) -> bool {
                self.0 == [0u8; $len]
            }

            /// Parses lowercase hex of exactly twice the byte length; all zeros is rejected.
            pub fn from_hex(hex: &str) -> Result<Self, TraceParentError> {
                let mut out = [0u8; $len];
                if hex.len() != 2 * $len || decode_hex(hex.as_bytes(), &mut out).is_none() {
                    return Err(TraceParentError::InvalidField($name, 2 * $len));
                }
                let id = $ty(out);
                if id.is_zero() {
                    return Err(if $len == 16 {
                        TraceParentError::ZeroTraceId
                    } else {
                        TraceParentError::ZeroSpanId
                    });
                }
                Ok(id)
            }

            /// The lowercase hex form.
            pub fn to_hex(&self) -> String {
                let mut buf = [0u8; 2 * $len];
                encode_hex(&self.0, &mut buf);
                buf.iter().map(|&c| c as char).collect()
            }
        }

        impl fmt::Debug for $ty {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(f, "{}({})", stringify!($ty), self.to_hex())
            }
        }

        impl fmt::Display for $ty {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.to_hex())
            }
        }
    };
}

hex_id!(TraceId, 16, "trace-id");
hex_id!(SpanId, 8, "parent-id");

const HEX: &[u8; 16] = b"0123456789abcdef";

/// The value of one lowercase hex digit.
#[inline]
fn hex_val(c: u8) -> Option<u8> {
    match c {
        b'0'..=b'9' => Some(c - b'0'),
        b'a'..=b'f' => Some(c - b'a' + 10),
        _ => None,
    }
}

#[inline]
fn hex_byte(hi: u8, lo: u8) -> Option<u8> {
    Some(hex_val(hi)? << 4 | hex_val(lo)?)
}

/// Decodes lowercase hex into `out`; `hex` must be exactly `2 * out.len()` long.
#[inline]
pub(crate) fn decode_hex(hex: &[u8], out: &mut [u8]) -> Option<()> {
    if hex.len() != 2 * out.len() {
        return None;
    }
    for (o, pair) in out.iter_mut().zip(hex.chunks_exact(2)) {
        *o = hex_byte(pair[0], pair[1])?;
    }
    Some(())
}

/// Encodes `bytes` as lowercase hex into `out`, which is `2 * bytes.len()` long.
#[inline]
pub(crate) fn encode_hex(bytes: &[u8], out: &mut [u8]) {
    for (pair, &b) in out.chunks_exact_mut(2).zip(bytes) {
        pair[0] = HEX[usize::from(b >> 4)];
        pair[1] = HEX[usize::from(b & 0x0f)];
    }
}
