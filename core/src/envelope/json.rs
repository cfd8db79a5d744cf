//! The JSON envelope: `traceparent`, `tracestate` and `baggage` members of a
//! JSON object carried in a text frame (the shape CloudEvents and the W3C
//! MQTT note use), optionally at a nested member path such as `params._meta`
//! for JSON-RPC and MCP.
//!
//! Neither direction parses the document into a tree. Injecting copies the
//! frame once and writes the members right after the target object's `{`;
//! extracting scans the target object's members, skipping over values.
//!
//! ```
//! use tracewire::envelope::{json::JsonEnvelope, Decoded};
//! use tracewire::TraceContext;
//! let ctx = TraceContext {
//!     traceparent: Some("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01".parse().unwrap()),
//!     ..Default::default()
//! };
//! let env = JsonEnvelope::top_level().strip_on_extract(false);
//! let frame = env.inject(br#"{"text":"hi"}"#, &ctx).unwrap();
//! assert_eq!(
//!     frame,
//!     br#"{"traceparent":"00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01","text":"hi"}"#
//! );
//! let Decoded::Enveloped(got, payload) = env.extract(&frame) else { panic!() };
//! assert_eq!(got.traceparent, ctx.traceparent);
//! assert_eq!(&*payload, &frame[..]);
//! ```

use super::{Decoded, EnvelopeError};
use crate::context::TraceContext;
use crate::handshake::{BAGGAGE, TRACEPARENT, TRACESTATE};
use crate::limits;
use crate::traceparent::TraceParent;
use crate::{Baggage, TraceState};
use std::borrow::Cow;
use std::ops::Range;

/// Nesting deeper than this is not scanned (the frame is then not enveloped).
const MAX_DEPTH: usize = 128;
/// The longest envelope member name (`traceparent`).
const LONGEST_NAME: usize = 11;
/// How far past a value's budget it is unescaped: enough that a cut value is
/// still over the budget after ending on a character boundary.
const CAP_SLACK: usize = 4;

/// Whether a receiver removes the envelope members from the payload it hands
/// the application, unless configured otherwise. On in every language: an
/// application reads what its peer wrote, whether or not tracing is on.
pub const STRIP_BY_DEFAULT: bool = true;

/// Where the envelope members live in a JSON object, and how to read them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JsonEnvelope {
    path: Vec<String>,
    strip: bool,
}

impl Default for JsonEnvelope {
    /// Top-level members, stripped on extract ([`STRIP_BY_DEFAULT`]).
    fn default() -> Self {
        JsonEnvelope {
            path: Vec::new(),
            strip: STRIP_BY_DEFAULT,
        }
    }
}

impl JsonEnvelope {
    /// Members at the top level of the object, stripped on extract.
    pub fn top_level() -> Self {
        Self::default()
    }

    /// Members inside the object at a dot-separated member path, e.g.
    /// `params._meta`, stripped on extract. An empty path means the top level.
    pub fn at_path(path: &str) -> Result<Self, crate::error::InvalidArgument> {
        if path.is_empty() {
            return Ok(Self::top_level());
        }
        let path: Vec<String> = path.split('.').map(str::to_owned).collect();
        if path.iter().any(String::is_empty) {
            return Err(crate::error::InvalidArgument(
                "a JSON member path has an empty component",
            ));
        }
        Ok(JsonEnvelope {
            path,
            strip: STRIP_BY_DEFAULT,
        })
    }

    /// Whether [`extract`](Self::extract) removes the envelope members from the
    /// payload it returns (costs one copy of the frame; on by default, see
    /// [`STRIP_BY_DEFAULT`]).
    pub fn strip_on_extract(mut self, strip: bool) -> Self {
        self.strip = strip;
        self
    }

    /// The member path, one component per element.
    pub fn path(&self) -> &[String] {
        &self.path
    }

    /// Returns a copy of `frame` with the context's members added.
    pub fn inject(&self, frame: &[u8], ctx: &TraceContext) -> Result<Vec<u8>, EnvelopeError> {
        let mut out = Vec::new();
        self.inject_into(frame, ctx, &mut out)?;
        Ok(out)
    }

    /// Like [`inject`](Self::inject), writing into `out` (cleared first) so a
    /// sender can reuse one buffer.
    ///
    /// Envelope members already at the front of the target object (from a
    /// frame being forwarded) are replaced; the object is not scanned further.
    /// A context with neither a span context nor baggage leaves the frame as it is.
    pub fn inject_into(
        &self,
        frame: &[u8],
        ctx: &TraceContext,
        out: &mut Vec<u8>,
    ) -> Result<(), EnvelopeError> {
        out.clear();
        let mut s = Scanner::new(frame);
        s.skip_ws();
        if !s.eat(b'{') {
            return Err(EnvelopeError::NotJsonObject(
                "the frame is not a JSON object",
            ));
        }
        // Walk the path; `missing` is how many trailing components must be created.
        let mut missing = 0;
        let mut body_start = s.pos;
        for (i, name) in self.path.iter().enumerate() {
            match s.find_member(name) {
                Ok(Some(())) => {
                    s.skip_ws();
                    if !s.eat(b'{') {
                        return Err(EnvelopeError::NotJsonObject(
                            "a member on the envelope path is not an object",
                        ));
                    }
                    body_start = s.pos;
                }
                Ok(None) => {
                    missing = self.path.len() - i;
                    break;
                }
                Err(_) => return Err(EnvelopeError::NotJsonObject("the frame is not valid JSON")),
            }
        }
        if ctx.is_empty() {
            out.extend_from_slice(frame);
            return Ok(());
        }
        let mut drop = Vec::new();
        let mut rest_empty = false;
        if missing == 0 {
            (drop, rest_empty) = leading_envelope_members(&mut s);
        }
        out.reserve(frame.len() + 160);
        out.extend_from_slice(&frame[..body_start]);
        let created = &self.path[self.path.len() - missing..];
        for name in created {
            out.push(b'"');
            write_escaped(out, name.as_bytes());
            out.extend_from_slice(b"\":{");
        }
        write_members(out, ctx);
        for _ in created {
            out.push(b'}');
        }
        if missing > 0 {
            // The created member goes first in an object we did not otherwise scan.
            let mut t = Scanner::new(frame);
            t.pos = body_start;
            t.skip_ws();
            if t.peek() != Some(b'}') {
                out.push(b',');
            }
            out.extend_from_slice(&frame[body_start..]);
            return Ok(());
        }
        if !rest_empty {
            out.push(b',');
        }
        let mut from = body_start;
        for r in drop {
            out.extend_from_slice(&frame[from..r.start]);
            from = r.end;
        }
        out.extend_from_slice(&frame[from..]);
        Ok(())
    }

    /// Reads the envelope of a received text frame. Never fails: see [`Decoded`].
    ///
    /// A frame is enveloped when the object at the path has a `traceparent`
    /// member; the first occurrence of each member counts. An invalid
    /// `tracestate` or `baggage` member is dropped, as it would be in a header.
    pub fn extract<'a>(&self, frame: &'a [u8]) -> Decoded<'a> {
        let mut s = Scanner::new(frame);
        s.skip_ws();
        if !s.eat(b'{') {
            return Decoded::Plain(frame);
        }
        for name in &self.path {
            match s.find_member(name) {
                Ok(Some(())) => {
                    s.skip_ws();
                    if !s.eat(b'{') {
                        return Decoded::Plain(frame);
                    }
                }
                Ok(None) | Err(_) => return Decoded::Plain(frame),
            }
        }
        let found = match scan_envelope_members(&mut s, self.strip) {
            Ok(found) => found,
            Err(e) => {
                return if e.saw_traceparent {
                    Decoded::Malformed(EnvelopeError::InvalidJson(e.at), frame)
                } else {
                    Decoded::Plain(frame)
                };
            }
        };
        let Some(tp) = found.traceparent else {
            return Decoded::Plain(frame);
        };
        let tp = match tp {
            MemberValue::String(v) => match TraceParent::parse(&v) {
                Ok(tp) => tp,
                Err(e) => return Decoded::Malformed(e.into(), frame),
            },
            MemberValue::Other => {
                return Decoded::Malformed(EnvelopeError::NotAString(TRACEPARENT), frame);
            }
        };
        let tracestate = match found.tracestate {
            Some(MemberValue::String(v)) => TraceState::parse(&v).unwrap_or_default(),
            _ => TraceState::new(),
        };
        let baggage = match found.baggage {
            Some(MemberValue::String(v)) => Baggage::parse(&v).unwrap_or_default(),
            _ => Baggage::new(),
        };
        let ctx = TraceContext {
            traceparent: Some(tp),
            tracestate,
            baggage,
            remote: true,
        };
        let payload = if self.strip {
            // Sized to what is kept: a huge stripped member costs nothing.
            let dropped: usize = found.strip.iter().map(|r| r.len()).sum();
            let mut out = Vec::with_capacity(frame.len().saturating_sub(dropped));
            let mut from = 0;
            for r in found.strip {
                out.extend_from_slice(&frame[from..r.start]);
                from = r.end;
            }
            out.extend_from_slice(&frame[from..]);
            Cow::Owned(out)
        } else {
            Cow::Borrowed(frame)
        };
        Decoded::Enveloped(ctx, payload)
    }
}

/// Writes `"traceparent":"...","tracestate":"...","baggage":"..."` (members
/// that would be empty are left out).
fn write_members(out: &mut Vec<u8>, ctx: &TraceContext) {
    let mut first = true;
    let mut member = |out: &mut Vec<u8>, name: &str, value: &[u8]| {
        if !first {
            out.push(b',');
        }
        first = false;
        out.push(b'"');
        out.extend_from_slice(name.as_bytes());
        out.extend_from_slice(b"\":\"");
        write_escaped(out, value);
        out.push(b'"');
    };
    if let Some(tp) = &ctx.traceparent {
        member(out, TRACEPARENT, &tp.encode());
        if !ctx.tracestate.is_empty() {
            member(out, TRACESTATE, ctx.tracestate.to_header().as_bytes());
        }
    }
    if !ctx.baggage.is_empty() {
        member(out, BAGGAGE, ctx.baggage.to_header().as_bytes());
    }
}

/// Writes UTF-8 `bytes` as the inside of a JSON string.
fn write_escaped(out: &mut Vec<u8>, bytes: &[u8]) {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    for &b in bytes {
        match b {
            b'"' => out.extend_from_slice(b"\\\""),
            b'\\' => out.extend_from_slice(b"\\\\"),
            0x00..=0x1f => {
                out.extend_from_slice(b"\\u00");
                out.push(HEX[usize::from(b >> 4)]);
                out.push(HEX[usize::from(b & 0xf)]);
            }
            _ => out.push(b),
        }
    }
}

fn is_envelope_name(key: &str) -> bool {
    key == TRACEPARENT || key == TRACESTATE || key == BAGGAGE
}

/// With the scanner just inside the target object, finds the envelope members
/// that lead it. Returns the byte ranges to drop (each with its comma) and
/// whether nothing but those members is in the object.
fn leading_envelope_members(s: &mut Scanner<'_>) -> (Vec<Range<usize>>, bool) {
    let mut drop = Vec::new();
    loop {
        // Ranges run from before a member's leading whitespace to after the
        // whitespace that follows its comma, so no stray blanks remain.
        let start = s.pos;
        s.skip_ws();
        match s.peek() {
            Some(b'}') => return (drop, true),
            Some(b'"') => {}
            _ => return (drop, false),
        }
        let Ok(key) = s.key(LONGEST_NAME) else {
            return (drop, false);
        };
        if !is_envelope_name(&key) {
            s.pos = start;
            return (drop, false);
        }
        s.skip_ws();
        if !s.eat(b':') || s.skip_ws_then_value().is_err() {
            s.pos = start;
            return (drop, false);
        }
        s.skip_ws();
        if s.eat(b',') {
            s.skip_ws();
            drop.push(start..s.pos);
        } else if s.peek() == Some(b'}') {
            drop.push(start..s.pos);
            return (drop, true);
        } else {
            return (drop, false);
        }
    }
}

enum MemberValue<'a> {
    String(Cow<'a, str>),
    Other,
}

#[derive(Default)]
struct Found<'a> {
    traceparent: Option<MemberValue<'a>>,
    tracestate: Option<MemberValue<'a>>,
    baggage: Option<MemberValue<'a>>,
    strip: Vec<Range<usize>>,
}

struct ScanError {
    at: usize,
    saw_traceparent: bool,
}

/// Scans every member of the object the scanner is inside, recording the
/// first occurrence of each envelope member and, if asked, the byte ranges
/// that remove all of them with their commas.
fn scan_envelope_members<'a>(s: &mut Scanner<'a>, strip: bool) -> Result<Found<'a>, ScanError> {
    let mut found = Found::default();
    let fail = |s: &Scanner<'_>, saw_traceparent: bool| ScanError {
        at: s.pos,
        saw_traceparent,
    };
    // Comma after the last member kept, to drop if the final member is stripped.
    let mut last_kept_comma: Option<usize> = None;
    let mut first = true;
    loop {
        s.skip_ws();
        if first && s.eat(b'}') {
            return Ok(found);
        }
        first = false;
        let start = s.pos;
        let saw = found.traceparent.is_some();
        let key = s.key(LONGEST_NAME).map_err(|_| fail(s, saw))?;
        s.skip_ws();
        if !s.eat(b':') {
            return Err(fail(s, saw));
        }
        s.skip_ws();
        let (slot, budget) = match key.as_ref() {
            TRACEPARENT => (Some(&mut found.traceparent), limits::TRACEPARENT_MAX_LEN),
            TRACESTATE => (Some(&mut found.tracestate), limits::TRACESTATE_MAX_RAW),
            BAGGAGE => (Some(&mut found.baggage), limits::BAGGAGE_MAX_RAW),
            _ => (None, 0),
        };
        let is_envelope = slot.is_some();
        match slot {
            Some(slot) if slot.is_none() => {
                *slot = Some(if s.peek() == Some(b'"') {
                    // Unescaped up to just past the value's budget, which its
                    // parser then applies; never a copy of a huge member.
                    MemberValue::String(
                        s.string_capped(budget + CAP_SLACK)
                            .map_err(|_| fail(s, saw))?,
                    )
                } else {
                    s.skip_ws_then_value().map_err(|_| fail(s, saw))?;
                    MemberValue::Other
                });
            }
            _ => s.skip_ws_then_value().map_err(|_| fail(s, saw))?,
        }
        let value_end = s.pos;
        s.skip_ws();
        match s.next() {
            Some(b',') => {
                if strip {
                    if is_envelope {
                        found.strip.push(start..s.pos);
                    } else {
                        last_kept_comma = Some(s.pos - 1);
                    }
                }
            }
            Some(b'}') => {
                if strip && is_envelope {
                    found.strip.push(start..value_end);
                    if let Some(c) = last_kept_comma {
                        found.strip.push(c..c + 1);
                        found.strip.sort_by_key(|r| r.start);
                    }
                }
                return Ok(found);
            }
            _ => return Err(fail(s, found.traceparent.is_some())),
        }
    }
}

/// A forward-only reader over JSON bytes that validates only what it reads.
struct Scanner<'a> {
    b: &'a [u8],
    pos: usize,
}

struct Invalid;

impl<'a> Scanner<'a> {
    fn new(b: &'a [u8]) -> Self {
        Scanner { b, pos: 0 }
    }

    fn peek(&self) -> Option<u8> {
        self.b.get(self.pos).copied()
    }

    fn next(&mut self) -> Option<u8> {
        let c = self.peek()?;
        self.pos += 1;
        Some(c)
    }

    fn eat(&mut self, c: u8) -> bool {
        if self.peek() == Some(c) {
            self.pos += 1;
            true
        } else {
            false
        }
    }

    fn skip_ws(&mut self) {
        while let Some(b' ' | b'\t' | b'\n' | b'\r') = self.peek() {
            self.pos += 1;
        }
    }

    /// Inside an object, skips members until one named `name`, leaving the
    /// scanner after its `:`. `Ok(None)` when the object ends first.
    fn find_member(&mut self, name: &str) -> Result<Option<()>, Invalid> {
        self.skip_ws();
        if self.eat(b'}') {
            return Ok(None);
        }
        loop {
            self.skip_ws();
            let key = self.key(name.len())?;
            self.skip_ws();
            if !self.eat(b':') {
                return Err(Invalid);
            }
            if key == name {
                return Ok(Some(()));
            }
            self.skip_ws_then_value()?;
            self.skip_ws();
            match self.next() {
                Some(b',') => {}
                Some(b'}') => return Ok(None),
                _ => return Err(Invalid),
            }
        }
    }

    /// Reads a string token, unescaping only if it holds escapes, and then
    /// keeping at most about `cap` bytes: a longer string comes back cut, still
    /// longer than `cap` (by 1 to 4 bytes, at a character boundary), so a
    /// caller comparing or parsing it sees it is over its budget. Escapes past
    /// the cut are not validated; nothing proportional to the string is
    /// allocated.
    fn string_capped(&mut self, cap: usize) -> Result<Cow<'a, str>, Invalid> {
        if !self.eat(b'"') {
            return Err(Invalid);
        }
        let start = self.pos;
        let (end, escaped) = self.string_end()?;
        let raw = &self.b[start..end];
        self.pos = end + 1;
        if escaped {
            unescape(raw, cap).map(Cow::Owned).ok_or(Invalid)
        } else {
            std::str::from_utf8(raw)
                .map(Cow::Borrowed)
                .map_err(|_| Invalid)
        }
    }

    /// Reads a member name to compare with names of at most `longest` bytes:
    /// a longer name cannot match, and is not unescaped past that.
    fn key(&mut self, longest: usize) -> Result<Cow<'a, str>, Invalid> {
        self.string_capped(longest + CAP_SLACK)
    }

    /// From just inside a string, the index of its closing quote and whether
    /// it contains escapes. Control characters inside are not rejected: the
    /// scanner checks structure, not every rule of the grammar.
    fn string_end(&self) -> Result<(usize, bool), Invalid> {
        let mut i = self.pos;
        let mut escaped = false;
        while let Some(found) = self
            .b
            .get(i..)
            .and_then(|rest| memchr::memchr2(b'"', b'\\', rest))
        {
            i += found;
            if self.b[i] == b'"' {
                return Ok((i, escaped));
            }
            escaped = true;
            i += 2;
        }
        Err(Invalid)
    }

    /// Skips whitespace and one JSON value of any type, without recursion.
    fn skip_ws_then_value(&mut self) -> Result<(), Invalid> {
        self.skip_ws();
        match self.peek() {
            Some(b'"') => {
                self.pos += 1;
                let (end, _) = self.string_end()?;
                self.pos = end + 1;
                Ok(())
            }
            Some(b'{' | b'[') => self.skip_container(),
            Some(b'-' | b'0'..=b'9' | b't' | b'f' | b'n') => {
                let start = self.pos;
                while let Some(c) = self.peek() {
                    if matches!(c, b',' | b'}' | b']' | b' ' | b'\t' | b'\n' | b'\r') {
                        break;
                    }
                    if !matches!(c, b'0'..=b'9' | b'a'..=b'z' | b'A'..=b'Z' | b'+' | b'-' | b'.') {
                        return Err(Invalid);
                    }
                    self.pos += 1;
                }
                if self.pos == start {
                    Err(Invalid)
                } else {
                    Ok(())
                }
            }
            _ => Err(Invalid),
        }
    }

    /// Skips a whole object or array, checking that brackets pair up.
    fn skip_container(&mut self) -> Result<(), Invalid> {
        // One bit per open container (1 = object); MAX_DEPTH bits.
        let mut stack: u128 = 0;
        let mut depth = 0usize;
        while let Some(c) = self.next() {
            match c {
                b'{' | b'[' => {
                    if depth == MAX_DEPTH {
                        return Err(Invalid);
                    }
                    stack = (stack << 1) | u128::from(c == b'{');
                    depth += 1;
                }
                b'}' | b']' => {
                    if depth == 0 || (stack & 1 == 1) != (c == b'}') {
                        return Err(Invalid);
                    }
                    stack >>= 1;
                    depth -= 1;
                    if depth == 0 {
                        return Ok(());
                    }
                }
                b'"' => {
                    let (end, _) = self.string_end()?;
                    self.pos = end + 1;
                }
                _ => {}
            }
        }
        Err(Invalid)
    }
}

/// Decodes the inside of a JSON string that contains escapes, keeping the
/// first `cap` bytes and at most 3 more to end on a character boundary;
/// the rest is not read.
fn unescape(raw: &[u8], cap: usize) -> Option<String> {
    let mut out = Vec::with_capacity(raw.len().min(cap.saturating_add(4)));
    let mut cut = false;
    let mut i = 0;
    while i < raw.len() {
        if out.len() >= cap {
            // Over the budget: the value is cut and its parser will refuse
            // or cut it, so the rest is neither decoded nor validated (the
            // scanner has already found where the string ends).
            cut = true;
            break;
        }
        let c = raw[i];
        if c != b'\\' {
            out.push(c);
            i += 1;
            continue;
        }
        let e = *raw.get(i + 1)?;
        i += 2;
        let simple = match e {
            b'"' => b'"',
            b'\\' => b'\\',
            b'/' => b'/',
            b'b' => 0x08,
            b'f' => 0x0c,
            b'n' => b'\n',
            b'r' => b'\r',
            b't' => b'\t',
            b'u' => {
                let hi = hex4(raw.get(i..i + 4)?)?;
                i += 4;
                let cp = if (0xd800..0xdc00).contains(&hi) {
                    if raw.get(i..i + 2)? != b"\\u" {
                        return None;
                    }
                    let lo = hex4(raw.get(i + 2..i + 6)?)?;
                    if !(0xdc00..0xe000).contains(&lo) {
                        return None;
                    }
                    i += 6;
                    0x10000 + ((hi - 0xd800) << 10) + (lo - 0xdc00)
                } else {
                    hi
                };
                let ch = char::from_u32(cp)?;
                let mut buf = [0u8; 4];
                out.extend_from_slice(ch.encode_utf8(&mut buf).as_bytes());
                continue;
            }
            _ => return None,
        };
        out.push(simple);
    }
    match String::from_utf8(out) {
        Ok(s) => Some(s),
        // Cut inside a raw multi-byte character: drop its start (at most 3
        // bytes, which the caller's slack allows for).
        Err(e) if cut && e.utf8_error().error_len().is_none() => {
            let valid = e.utf8_error().valid_up_to();
            let mut out = e.into_bytes();
            out.truncate(valid);
            String::from_utf8(out).ok()
        }
        Err(_) => None,
    }
}

fn hex4(b: &[u8]) -> Option<u32> {
    let s = std::str::from_utf8(b).ok()?;
    u32::from_str_radix(s, 16)
        .ok()
        .filter(|_| b.iter().all(u8::is_ascii_hexdigit))
}
