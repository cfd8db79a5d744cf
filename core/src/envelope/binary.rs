//! The binary envelope: a compact, versioned prefix before the payload of a
//! binary frame. Decoding borrows the payload from the frame.
//!
//! Layout (version 2, big-endian lengths):
//!
//! | offset | size | field |
//! |---|---|---|
//! | 0 | 3 | magic `F5 54 57` (`0xF5` never starts valid UTF-8; `TW`) |
//! | 3 | 1 | version `02` |
//! | 4 | 2 | envelope length: bytes from offset 0 to the payload |
//! | 6 | 1 | flags: bit 0 span context, bit 1 tracestate, bit 2 baggage; bits 3-7 zero |
//! | 7 | 16 | trace id (if bit 0) |
//! | 23 | 8 | span id (if bit 0) |
//! | 31 | 1 | trace flags (if bit 0) |
//! | … | 2 + n | tracestate header value, length-prefixed (if bit 1) |
//! | … | 2 + n | baggage header value, length-prefixed (if bit 2) |
//! | length | rest | the application payload |
//!
//! Every later version keeps magic, version and length first, so a receiver
//! skips an envelope of a version it does not read and still delivers the
//! payload (reporting `unsupported_envelope_version`).
//!
//! ```
//! use tracewire::envelope::{binary, Decoded};
//! use tracewire::TraceContext;
//! let ctx = TraceContext {
//!     traceparent: Some("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01".parse().unwrap()),
//!     ..Default::default()
//! };
//! let frame = binary::encode(&ctx, b"\x01\x02audio");
//! assert_eq!(frame.len(), 32 + 7);
//! let Decoded::Enveloped(got, payload) = binary::decode(&frame) else { panic!() };
//! assert_eq!(got.traceparent, ctx.traceparent);
//! assert_eq!(&*payload, b"\x01\x02audio");
//! ```

use super::{Decoded, EnvelopeError};
use crate::context::TraceContext;
use crate::traceparent::{SpanId, TraceFlags, TraceId, TraceParent};
use crate::{Baggage, TraceState};
use std::borrow::Cow;

/// The first three bytes of every binary envelope.
pub const MAGIC: [u8; 3] = [0xF5, 0x54, 0x57];
/// The version this library writes and reads. Version 1 (no length field)
/// cannot be skipped; every version from 2 on can.
pub const VERSION: u8 = 2;
/// Flag bit: trace id, span id and trace flags follow.
pub const FLAG_SPAN_CONTEXT: u8 = 0x01;
/// Flag bit: a length-prefixed `tracestate` follows.
pub const FLAG_TRACESTATE: u8 = 0x02;
/// Flag bit: a length-prefixed `baggage` follows.
pub const FLAG_BAGGAGE: u8 = 0x04;
const KNOWN_FLAGS: u8 = FLAG_SPAN_CONTEXT | FLAG_TRACESTATE | FLAG_BAGGAGE;
/// Bytes every version from 2 on starts with: magic, version, length.
const SKIPPABLE_PREFIX_LEN: usize = 6;
/// Bytes before any optional field: magic, version, length, flags.
const FIXED_LEN: usize = 7;
/// Bytes of trace id, span id and trace flags.
const SPAN_CONTEXT_LEN: usize = 25;

/// Writes the envelope for `ctx` (no payload) onto `out`.
///
/// The `tracestate` (at most 512 bytes) and `baggage` (at most 8192 bytes)
/// written are the serialised header values, which always fit a 16-bit length.
pub fn encode_header_into(ctx: &TraceContext, out: &mut Vec<u8>) {
    let tracestate = match ctx.traceparent {
        Some(_) if !ctx.tracestate.is_empty() => Some(ctx.tracestate.to_header()),
        _ => None,
    };
    let baggage = (!ctx.baggage.is_empty()).then(|| ctx.baggage.to_header());
    let mut flags = 0;
    if ctx.traceparent.is_some() {
        flags |= FLAG_SPAN_CONTEXT;
    }
    if tracestate.is_some() {
        flags |= FLAG_TRACESTATE;
    }
    if baggage.is_some() {
        flags |= FLAG_BAGGAGE;
    }
    let start = out.len();
    out.extend_from_slice(&MAGIC);
    out.push(VERSION);
    // The length, filled in once the fields are written.
    out.extend_from_slice(&[0, 0]);
    out.push(flags);
    if let Some(tp) = ctx.traceparent {
        out.extend_from_slice(&tp.trace_id.0);
        out.extend_from_slice(&tp.span_id.0);
        out.push(tp.flags.known().0);
    }
    for field in [tracestate, baggage].into_iter().flatten() {
        // Both header values are bounded far below u16::MAX by their specs.
        let len = u16::try_from(field.len()).unwrap_or(u16::MAX);
        out.extend_from_slice(&len.to_be_bytes());
        out.extend_from_slice(&field.as_bytes()[..usize::from(len)]);
    }
    // At most 7 + 25 + 2 + 512 + 2 + 8192 bytes: always fits.
    let len = u16::try_from(out.len() - start).unwrap_or(u16::MAX);
    out[start + 4..start + 6].copy_from_slice(&len.to_be_bytes());
}

/// Returns a new frame: the envelope for `ctx` followed by `payload`.
pub fn encode(ctx: &TraceContext, payload: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    encode_into(ctx, payload, &mut out);
    out
}

/// Like [`encode`], writing into `out` (cleared first) so a sender can reuse
/// one buffer.
pub fn encode_into(ctx: &TraceContext, payload: &[u8], out: &mut Vec<u8>) {
    out.clear();
    out.reserve(FIXED_LEN + SPAN_CONTEXT_LEN + payload.len() + 64);
    encode_header_into(ctx, out);
    out.extend_from_slice(payload);
}

/// Whether `frame` starts with the envelope magic (and so claims to be enveloped).
pub fn is_enveloped(frame: &[u8]) -> bool {
    frame.starts_with(&MAGIC)
}

/// Reads the envelope of a received binary frame. Never fails: see [`Decoded`].
/// The payload is borrowed from `frame`; nothing is copied. An envelope of
/// a later version is skipped by its length: the payload after it is
/// delivered, with `UnsupportedVersion`.
pub fn decode(frame: &[u8]) -> Decoded<'_> {
    if !is_enveloped(frame) {
        return Decoded::Plain(frame);
    }
    match decode_header(frame) {
        Ok((ctx, len)) => Decoded::Enveloped(ctx, Cow::Borrowed(&frame[len..])),
        Err(e @ EnvelopeError::UnsupportedVersion(_)) => {
            Decoded::Malformed(e, payload_after_later_version(frame).unwrap_or(frame))
        }
        Err(e) => Decoded::Malformed(e, frame),
    }
}

/// The payload after an envelope of a version above [`VERSION`], found by
/// its length field; `None` for an earlier version (version 1 has no
/// length) or a length that does not fit the frame.
fn payload_after_later_version(frame: &[u8]) -> Option<&[u8]> {
    let prefix = frame.get(..SKIPPABLE_PREFIX_LEN)?;
    if prefix[3] <= VERSION {
        return None;
    }
    let len = usize::from(u16::from_be_bytes([prefix[4], prefix[5]]));
    if len < SKIPPABLE_PREFIX_LEN {
        return None;
    }
    frame.get(len..)
}

/// Parses the envelope at the start of `frame`, returning the context and
/// the length of the envelope (where the payload begins).
pub fn decode_header(frame: &[u8]) -> Result<(TraceContext, usize), EnvelopeError> {
    let mut r = Reader { b: frame, pos: 0 };
    if r.take(3)? != MAGIC {
        return Err(EnvelopeError::InvalidField("missing magic bytes"));
    }
    let version = r.take(1)?[0];
    if version != VERSION {
        return Err(EnvelopeError::UnsupportedVersion(version));
    }
    let declared = r.take(2)?;
    let declared = usize::from(u16::from_be_bytes([declared[0], declared[1]]));
    if declared < FIXED_LEN {
        return Err(EnvelopeError::InvalidField(
            "the envelope length is shorter than its fixed fields",
        ));
    }
    if declared > frame.len() {
        return Err(EnvelopeError::Truncated {
            needed: declared,
            available: frame.len(),
        });
    }
    // The fields are read within the declared length only.
    r.b = &frame[..declared];
    let flags = r.take(1)?[0];
    if flags & !KNOWN_FLAGS != 0 {
        return Err(EnvelopeError::ReservedFlags(flags & !KNOWN_FLAGS));
    }
    let mut ctx = TraceContext {
        remote: true,
        ..Default::default()
    };
    if flags & FLAG_SPAN_CONTEXT != 0 {
        let ids = r.take(SPAN_CONTEXT_LEN)?;
        let mut trace_id = [0u8; 16];
        let mut span_id = [0u8; 8];
        trace_id.copy_from_slice(&ids[..16]);
        span_id.copy_from_slice(&ids[16..24]);
        let (trace_id, span_id) = (TraceId(trace_id), SpanId(span_id));
        if trace_id.is_zero() {
            return Err(EnvelopeError::InvalidField("the trace id is all zeros"));
        }
        if span_id.is_zero() {
            return Err(EnvelopeError::InvalidField("the span id is all zeros"));
        }
        ctx.traceparent = Some(TraceParent {
            trace_id,
            span_id,
            flags: TraceFlags(ids[24]),
        });
    } else if flags & FLAG_TRACESTATE != 0 {
        return Err(EnvelopeError::InvalidField(
            "a tracestate is present without a span context",
        ));
    }
    if flags & FLAG_TRACESTATE != 0 {
        // An invalid tracestate is dropped, as in a header; the frame stays valid.
        ctx.tracestate = TraceState::parse(r.field(
            "the tracestate flag is set but its length is zero",
            "the tracestate is not ASCII",
        )?)
        .unwrap_or_default();
    }
    if flags & FLAG_BAGGAGE != 0 {
        ctx.baggage = Baggage::parse(r.field(
            "the baggage flag is set but its length is zero",
            "the baggage is not ASCII",
        )?)
        .unwrap_or_default();
    }
    if r.pos != declared {
        return Err(EnvelopeError::InvalidField(
            "the envelope length does not match its fields",
        ));
    }
    Ok((ctx, declared))
}

// The queue carrier is this format with no payload. It lives here rather than
// in `context` so the dependency runs one way: the envelope formats know the
// context, the context knows no format.
impl TraceContext {
    /// Serialises the context for a queue item, a job record or any store
    /// (the async capture half). The carrier is a binary envelope with no
    /// payload: about 32 bytes plus any tracestate and baggage.
    ///
    /// ```
    /// use tracewire::TraceContext;
    /// let ctx = TraceContext::new(
    ///     tracewire::TraceId::from_hex("4bf92f3577b34da6a3ce929d0e0e4736").unwrap(),
    ///     tracewire::SpanId::from_hex("00f067aa0ba902b7").unwrap(),
    ///     tracewire::TraceFlags::SAMPLED,
    /// );
    /// let carrier = ctx.to_carrier();
    /// let restored = TraceContext::from_carrier(&carrier).unwrap();
    /// assert_eq!(restored.traceparent, ctx.traceparent);
    /// assert!(restored.remote);
    /// ```
    pub fn to_carrier(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(32);
        encode_header_into(self, &mut out);
        out
    }

    /// Restores a context from [`to_carrier`](Self::to_carrier)'s bytes (the
    /// async restore half). The result is marked remote: it came from
    /// outside the current task.
    ///
    /// A carrier longer than [`crate::limits::CARRIER_MAX_LEN`] is rejected
    /// before it is read.
    pub fn from_carrier(carrier: &[u8]) -> Result<TraceContext, EnvelopeError> {
        if carrier.len() > crate::limits::CARRIER_MAX_LEN {
            return Err(EnvelopeError::InvalidField(
                "a carrier is longer than its budget",
            ));
        }
        let (ctx, len) = decode_header(carrier)?;
        if len != carrier.len() {
            return Err(EnvelopeError::InvalidField(
                "a carrier has bytes after the context",
            ));
        }
        Ok(ctx)
    }
}

struct Reader<'a> {
    b: &'a [u8],
    pos: usize,
}

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize) -> Result<&'a [u8], EnvelopeError> {
        let end = self.pos + n;
        let s = self.b.get(self.pos..end).ok_or(EnvelopeError::Truncated {
            needed: end,
            available: self.b.len(),
        })?;
        self.pos = end;
        Ok(s)
    }

    /// A 16-bit length-prefixed field that must be non-empty ASCII; the two
    /// messages say what is wrong otherwise.
    fn field(
        &mut self,
        empty: &'static str,
        not_ascii: &'static str,
    ) -> Result<&'a str, EnvelopeError> {
        let len = self.take(2)?;
        let len = usize::from(u16::from_be_bytes([len[0], len[1]]));
        if len == 0 {
            return Err(EnvelopeError::InvalidField(empty));
        }
        let bytes = self.take(len)?;
        // ASCII is valid UTF-8, so the conversion only fails where the check does.
        match std::str::from_utf8(bytes) {
            Ok(s) if bytes.is_ascii() => Ok(s),
            _ => Err(EnvelopeError::InvalidField(not_ascii)),
        }
    }
}
