//! The one byte format of the bridge (grammar in the crate docs), written by
//! [`Writer`] and read by [`Reader`].
//!
//! Besides attributes and decisions, the format has a *context record*,
//! used today by JNI in both directions:
//!
//! ```text
//! u8 flags            bit 0: span context present, bit 1: remote
//! [32 ascii]          trace id, lowercase hex      (bit 0 only)
//! [16 ascii]          span id, lowercase hex       (bit 0 only)
//! [u8]                trace flags                  (bit 0 only)
//! list<str key, str value>                         tracestate, in order
//! list<member>                                     baggage, in order
//! ```
//!
//! A baggage member is `str key, str value, str metadata,
//! list<str key, u8 has_value, str value>`: the metadata is the properties in
//! header form (`p1=v1;p2`, what opentelemetry-java keeps as
//! `BaggageEntryMetadata`), followed by the same properties decoded. Rust
//! writes both; a reader writes one or the other (decoded properties win
//! when there are any).

use crate::codes::{Coded, ValueTag};
use crate::error::{BridgeError, Result};
use std::borrow::Cow;
use tracewire::baggage::BaggageMember;
use tracewire::model::{CloseDecision, Event, SpanDecision, SpanKind};
use tracewire::target::Target;
use tracewire::{Baggage, KeyValue, SpanId, TraceContext, TraceFlags, TraceId, TraceParent};
use tracewire::{TraceState, Value};

/// Reads the byte format from a borrowed buffer; every read is bounds-checked
/// and a short buffer is `invalid_argument`.
pub struct Reader<'a> {
    b: &'a [u8],
    pos: usize,
}

impl<'a> Reader<'a> {
    /// A reader at the start of `b`.
    pub fn new(b: &'a [u8]) -> Self {
        Reader { b, pos: 0 }
    }

    /// Whether every byte was read.
    pub fn is_empty(&self) -> bool {
        self.pos == self.b.len()
    }

    /// The next `n` bytes.
    pub fn take(&mut self, n: usize) -> Result<&'a [u8]> {
        let end = self.pos.checked_add(n).filter(|&e| e <= self.b.len());
        match end {
            Some(end) => {
                let s = &self.b[self.pos..end];
                self.pos = end;
                Ok(s)
            }
            None => Err(BridgeError::invalid_argument("truncated input")),
        }
    }

    fn array<const N: usize>(&mut self) -> Result<[u8; N]> {
        let mut a = [0u8; N];
        a.copy_from_slice(self.take(N)?);
        Ok(a)
    }

    /// A `u8`.
    pub fn u8(&mut self) -> Result<u8> {
        Ok(self.take(1)?[0])
    }

    /// A `u32`.
    pub fn u32(&mut self) -> Result<u32> {
        Ok(u32::from_le_bytes(self.array()?))
    }

    /// An `i32`.
    pub fn i32(&mut self) -> Result<i32> {
        Ok(i32::from_le_bytes(self.array()?))
    }

    /// An `i64`.
    pub fn i64(&mut self) -> Result<i64> {
        Ok(i64::from_le_bytes(self.array()?))
    }

    /// An `f64`.
    pub fn f64(&mut self) -> Result<f64> {
        Ok(f64::from_bits(u64::from_le_bytes(self.array()?)))
    }

    /// A length-prefixed byte string.
    pub fn bytes(&mut self) -> Result<&'a [u8]> {
        let n = self.u32()? as usize;
        self.take(n)
    }

    /// A `str`; invalid UTF-8 is `invalid_argument`.
    pub fn str(&mut self) -> Result<&'a str> {
        std::str::from_utf8(self.bytes()?)
            .map_err(|_| BridgeError::invalid_argument("a string is not UTF-8"))
    }

    /// A `u8` enum code, decoded strictly.
    pub fn coded<T: Coded>(&mut self) -> Result<T> {
        T::from_code(u32::from(self.u8()?))
    }

    /// An `attributes` block; an unknown tag or a bool byte other than 0 or
    /// 1 is `invalid_argument`.
    pub fn attributes(&mut self) -> Result<Vec<(&'a str, Value)>> {
        let n = self.u32()?;
        let mut out = Vec::with_capacity((n as usize).min(64));
        for _ in 0..n {
            let key = self.str()?;
            let value = match self.coded::<ValueTag>()? {
                ValueTag::String => Value::String(Cow::Owned(self.str()?.to_owned())),
                ValueTag::Int => Value::Int(self.i64()?),
                ValueTag::Float => Value::Float(self.f64()?),
                ValueTag::Bool => match self.u8()? {
                    0 => Value::Bool(false),
                    1 => Value::Bool(true),
                    b => {
                        return Err(BridgeError::invalid_argument(format!(
                            "invalid bool byte {b}"
                        )));
                    }
                },
            };
            out.push((key, value));
        }
        Ok(out)
    }

    /// A context record (see the module docs).
    pub fn context(&mut self) -> Result<TraceContext> {
        let flags = self.u8()?;
        let mut ctx = TraceContext {
            remote: flags & 2 != 0,
            ..TraceContext::default()
        };
        if flags & 1 != 0 {
            let trace_id = TraceId::from_hex(ascii(self.take(32)?));
            let span_id = SpanId::from_hex(ascii(self.take(16)?));
            let tflags = TraceFlags(self.u8()?);
            // An invalid or all-zero id is no span context (as
            // opentelemetry's `SpanContext.isValid` says); the rest is kept.
            if let (Ok(trace_id), Ok(span_id)) = (trace_id, span_id)
                && !trace_id.is_zero()
                && !span_id.is_zero()
            {
                ctx.traceparent = Some(TraceParent {
                    trace_id,
                    span_id,
                    flags: tflags,
                });
            }
        }
        let n = self.u32()?;
        let mut entries = Vec::with_capacity((n as usize).min(64));
        for _ in 0..n {
            entries.push((self.str()?, self.str()?));
        }
        if ctx.traceparent.is_some() {
            // Insert moves a key to the front: insert from the back to keep
            // the order. Entries the core rejects are dropped, as from a header.
            let mut ts = TraceState::new();
            for (k, v) in entries.iter().rev() {
                let _ = ts.insert(k, v);
            }
            ctx.tracestate = ts;
        }
        let n = self.u32()?;
        let mut baggage = Baggage::new();
        for _ in 0..n {
            let member = self.member()?;
            let _ = baggage.insert_member(member);
        }
        ctx.baggage = baggage;
        Ok(ctx)
    }

    /// A baggage member (see the module docs).
    pub fn member(&mut self) -> Result<BaggageMember> {
        let (key, value, metadata) = (self.str()?, self.str()?, self.str()?);
        let n = self.u32()?;
        let mut properties = Vec::with_capacity((n as usize).min(64));
        for _ in 0..n {
            let k = self.str()?.to_owned();
            let has_value = self.u8()? != 0;
            let v = self.str()?;
            properties.push((k, has_value.then(|| v.to_owned())));
        }
        if properties.is_empty() {
            properties = properties_from_metadata(metadata);
        }
        Ok(BaggageMember {
            key: key.to_owned(),
            value: value.to_owned(),
            properties,
        })
    }
}

fn ascii(b: &[u8]) -> &str {
    std::str::from_utf8(b).unwrap_or("")
}

/// Properties from header-form metadata (`p1=v1;p2`), parsed by the core's
/// baggage parser; metadata it rejects is dropped.
fn properties_from_metadata(metadata: &str) -> Vec<(String, Option<String>)> {
    let metadata = metadata.trim();
    if metadata.is_empty() {
        return Vec::new();
    }
    Baggage::parse(&format!("k=;{metadata}"))
        .ok()
        .and_then(|b| b.iter().next().map(|m| m.properties.clone()))
        .unwrap_or_default()
}

/// Header-form metadata of a member's properties, serialised by the core.
fn metadata_of(member: &BaggageMember) -> String {
    if member.properties.is_empty() {
        return String::new();
    }
    let mut b = Baggage::new();
    let one = BaggageMember {
        key: "k".to_owned(),
        value: String::new(),
        properties: member.properties.clone(),
    };
    if b.insert_member(one).is_err() {
        return String::new();
    }
    b.to_header()
        .strip_prefix("k=;")
        .map(str::to_owned)
        .unwrap_or_default()
}

/// Writes the byte format. Reuses one buffer per thread (taken back when
/// the writer is dropped), so hot paths allocate nothing for their output.
pub struct Writer {
    /// The bytes written so far; callers may append raw bytes (a frame, an
    /// envelope) directly.
    pub out: Vec<u8>,
}

thread_local! {
    static SPARE: std::cell::Cell<Vec<u8>> = const { std::cell::Cell::new(Vec::new()) };
}

impl Drop for Writer {
    fn drop(&mut self) {
        let mut v = std::mem::take(&mut self.out);
        if v.capacity() > 0 && v.capacity() <= 64 << 10 {
            v.clear();
            let _ = SPARE.try_with(|s| s.set(v));
        }
    }
}

impl Default for Writer {
    fn default() -> Self {
        Writer::new()
    }
}

impl Writer {
    /// An empty writer (with this thread's spare buffer, if any).
    pub fn new() -> Self {
        let mut out = SPARE.try_with(|s| s.take()).unwrap_or_default();
        out.clear();
        Writer { out }
    }

    /// A writer holding `out` as its content.
    pub fn from_vec(out: Vec<u8>) -> Self {
        Writer { out }
    }

    /// The bytes, owned (the thread's spare buffer is not kept).
    pub fn into_vec(mut self) -> Vec<u8> {
        std::mem::take(&mut self.out)
    }

    /// A `u8`.
    pub fn u8(&mut self, v: u8) {
        self.out.push(v);
    }

    /// A `u32`.
    pub fn u32(&mut self, v: u32) {
        self.out.extend_from_slice(&v.to_le_bytes());
    }

    /// An `i32`.
    pub fn i32(&mut self, v: i32) {
        self.out.extend_from_slice(&v.to_le_bytes());
    }

    /// An `i64`.
    pub fn i64(&mut self, v: i64) {
        self.out.extend_from_slice(&v.to_le_bytes());
    }

    /// An `f64`.
    pub fn f64(&mut self, v: f64) {
        self.out.extend_from_slice(&v.to_bits().to_le_bytes());
    }

    /// A count or length, saturated at `u32::MAX` (every list and string
    /// here is far below 4 GiB: header values, frames from a Java array).
    pub fn len(&mut self, n: usize) {
        self.u32(u32::try_from(n).unwrap_or(u32::MAX));
    }

    /// A length-prefixed byte string.
    pub fn bytes(&mut self, b: &[u8]) {
        self.len(b.len());
        self.out.extend_from_slice(b);
    }

    /// A `str`.
    pub fn str(&mut self, s: &str) {
        self.bytes(s.as_bytes());
    }

    /// A `u8` enum code.
    pub fn coded<T: Coded>(&mut self, v: T) {
        self.u8(v.code());
    }

    /// An `attributes` block.
    pub fn attributes(&mut self, attrs: &[KeyValue]) {
        self.len(attrs.len());
        for kv in attrs {
            self.str(kv.key);
            self.coded(ValueTag::of(&kv.value));
            match &kv.value {
                Value::String(s) => self.str(s),
                Value::Int(i) => self.i64(*i),
                Value::Float(f) => self.f64(*f),
                Value::Bool(b) => self.u8(u8::from(*b)),
            }
        }
    }

    /// A span decision.
    pub fn span_decision(&mut self, d: &SpanDecision) {
        self.str(&d.name);
        self.coded::<SpanKind>(d.kind);
        self.len(d.parent.len());
        for p in d.parent {
            self.coded(*p);
        }
        self.len(d.links.len());
        for l in d.links {
            self.coded(*l);
        }
        self.attributes(&d.attributes);
    }

    /// A close decision.
    pub fn close_decision(&mut self, d: &CloseDecision) {
        self.attributes(&d.attributes);
        self.u8(u8::from(d.is_error));
        match &d.span {
            Some(s) => {
                self.u8(1);
                self.span_decision(s);
            }
            None => self.u8(0),
        }
    }

    /// A target record: `str address` (empty when unknown), `i32 port`
    /// (`-1` when unknown), `str path`.
    pub fn target(&mut self, t: &Target) {
        self.str(t.address.as_deref().unwrap_or(""));
        self.i32(t.port.map_or(-1, i32::from));
        self.str(&t.path);
    }

    /// An event record: `str name`, attributes (e.g. the core's `exception`
    /// event for a malformed envelope).
    pub fn event(&mut self, e: &Event) {
        self.str(e.name);
        self.attributes(&e.attributes);
    }

    /// A context record (see the module docs).
    pub fn context(&mut self, ctx: &TraceContext) {
        let mut flags = 0u8;
        if ctx.traceparent.is_some() {
            flags |= 1;
        }
        if ctx.remote {
            flags |= 2;
        }
        self.u8(flags);
        if let Some(tp) = ctx.traceparent {
            let encoded = tp.encode();
            // `00-<32 hex>-<16 hex>-<2 hex>`
            self.out.extend_from_slice(&encoded[3..35]);
            self.out.extend_from_slice(&encoded[36..52]);
            self.u8(tp.flags.0);
            self.len(ctx.tracestate.len());
            for (k, v) in ctx.tracestate.iter() {
                self.str(k);
                self.str(v);
            }
        } else {
            self.u32(0);
        }
        self.len(ctx.baggage.len());
        for m in ctx.baggage.iter() {
            self.member(m);
        }
    }

    /// A baggage member (see the module docs).
    pub fn member(&mut self, m: &BaggageMember) {
        self.str(&m.key);
        self.str(&m.value);
        self.str(&metadata_of(m));
        self.len(m.properties.len());
        for (k, v) in &m.properties {
            self.str(k);
            self.u8(u8::from(v.is_some()));
            self.str(v.as_deref().unwrap_or(""));
        }
    }
}

/// An `attributes` block as an owned buffer (for the C ABI's `TwBytes`).
pub fn attributes_to_vec(attrs: &[KeyValue]) -> Vec<u8> {
    let mut w = Writer::from_vec(Vec::with_capacity(16 + 32 * attrs.len()));
    w.attributes(attrs);
    w.into_vec()
}

#[cfg(test)]
mod tests {
    use super::*;
    use tracewire::model::{Connection, LinkSource, MessageType, Model, ParentSource, Role};

    #[test]
    fn a_record_with_a_flood_of_baggage_members_reads_in_linear_time() {
        // A record with 45,000 members (JNI reads these from Java): each is
        // read and inserted once. This took 2.3 s in a release build while
        // every insert rescanned the members (a fuzz finding); the W3C member
        // limits apply when the baggage becomes a header.
        let mut w = Writer::from_vec(Vec::new());
        w.u8(0);
        w.len(0);
        w.len(45_000);
        for i in 0..45_000 {
            w.str(&format!("k{i}"));
            w.str("");
            w.str("");
            w.len(0);
        }
        let bytes = w.into_vec();
        let ctx = Reader::new(&bytes).context().unwrap();
        assert_eq!(ctx.baggage.len(), 45_000);
    }

    #[test]
    fn attributes_round_trip_every_type() {
        let attrs = [
            KeyValue::new("s", "text"),
            KeyValue::new("i", Value::Int(-2)),
            KeyValue::new("f", Value::Float(0.25)),
            KeyValue::new("b", Value::Bool(true)),
        ];
        let b = attributes_to_vec(&attrs);
        let mut r = Reader::new(&b);
        let got = r.attributes().unwrap();
        assert!(r.is_empty());
        let want: Vec<_> = attrs.iter().map(|kv| (kv.key, kv.value.clone())).collect();
        assert_eq!(got, want);
    }

    #[test]
    fn unknown_tags_and_bool_bytes_are_rejected() {
        let mut b = attributes_to_vec(&[KeyValue::new("k", Value::Bool(true))]);
        let tag = b.len() - 2;
        b[tag] = 9;
        let e = Reader::new(&b).attributes().unwrap_err();
        assert!(e.message.contains("attribute value type 9"), "{e}");
        b[tag] = 3;
        let last = b.len() - 1;
        b[last] = 2;
        assert!(Reader::new(&b).attributes().is_err());
        assert!(Reader::new(&b[..b.len() - 1]).attributes().is_err());
    }

    #[test]
    fn a_span_decision_is_laid_out_as_documented() {
        let conn = Connection::new(Model::Message, Role::Client, "s1", "/chat");
        let d = conn.send(MessageType::Text, 5);
        let mut w = Writer::new();
        w.span_decision(&d);
        let mut r = Reader::new(&w.out);
        assert_eq!(r.str().unwrap(), d.name);
        assert_eq!(r.coded::<SpanKind>().unwrap(), d.kind);
        let n = r.u32().unwrap() as usize;
        let parents: Vec<ParentSource> = (0..n).map(|_| r.coded().unwrap()).collect();
        assert_eq!(parents, d.parent);
        let n = r.u32().unwrap() as usize;
        let links: Vec<LinkSource> = (0..n).map(|_| r.coded().unwrap()).collect();
        assert_eq!(links, d.links);
        assert_eq!(r.attributes().unwrap().len(), d.attributes.len());
        assert!(r.is_empty());
    }

    #[test]
    fn a_context_record_round_trips() {
        let mut ctx = TraceContext::new(
            TraceId::from_hex("4bf92f3577b34da6a3ce929d0e0e4736").unwrap(),
            SpanId::from_hex("00f067aa0ba902b7").unwrap(),
            TraceFlags::SAMPLED,
        );
        ctx.tracestate = TraceState::parse("a=1,b=2").unwrap();
        ctx.baggage = Baggage::parse("k=v;p=1;q").unwrap();
        let mut w = Writer::new();
        w.context(&ctx);
        let got = Reader::new(&w.out).context().unwrap();
        assert_eq!(got, ctx);
    }
}
