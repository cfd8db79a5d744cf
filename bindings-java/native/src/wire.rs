//! The byte layouts exchanged with `dev.tracewire.internal.Native` through
//! direct buffers. This is the bridge, not an API: both sides are in this
//! repository and change together (`NativeWireTest` pins them).
//!
//! Every integer is big-endian (`java.nio.ByteBuffer`'s default order); a
//! string is a `u32` byte length followed by UTF-8.
//!
//! A *context record* (both directions):
//!
//! ```text
//! u8 flags            bit 0: span context present, bit 1: remote
//! [32 ascii]          trace id, lowercase hex      (bit 0 only)
//! [16 ascii]          span id, lowercase hex       (bit 0 only)
//! [u8]                trace flags                  (bit 0 only)
//! u32 n, n x (str key, str value)                  tracestate, in order
//! u32 n, n x member                                baggage, in order
//! ```
//!
//! A baggage member is `str key, str value, str metadata, u32 n,
//! n x (str key, u8 has_value, str value)`: the metadata is the properties in
//! header form (`p1=v1;p2`, what opentelemetry-java keeps as
//! `BaggageEntryMetadata`), followed by the same properties decoded. Rust
//! writes both; Java writes one or the other (decoded properties win when
//! there are any).

use crate::Fail;
use tracewire::baggage::BaggageMember;
use tracewire::{Baggage, SpanId, TraceContext, TraceFlags, TraceId, TraceParent, TraceState};

/// Reads the inputs Java wrote.
pub(crate) struct Reader<'a> {
    b: &'a [u8],
    pos: usize,
}

impl<'a> Reader<'a> {
    pub(crate) fn new(b: &'a [u8]) -> Self {
        Reader { b, pos: 0 }
    }

    fn take(&mut self, n: usize) -> Result<&'a [u8], Fail> {
        let end = self.pos.checked_add(n).filter(|&e| e <= self.b.len());
        match end {
            Some(end) => {
                let s = &self.b[self.pos..end];
                self.pos = end;
                Ok(s)
            }
            None => Err(Fail::argument("truncated input from Java")),
        }
    }

    pub(crate) fn u8(&mut self) -> Result<u8, Fail> {
        Ok(self.take(1)?[0])
    }

    pub(crate) fn u32(&mut self) -> Result<u32, Fail> {
        let b = self.take(4)?;
        Ok(u32::from_be_bytes([b[0], b[1], b[2], b[3]]))
    }

    pub(crate) fn i32(&mut self) -> Result<i32, Fail> {
        Ok(self.u32()? as i32)
    }

    pub(crate) fn i64(&mut self) -> Result<i64, Fail> {
        let b = self.take(8)?;
        let mut a = [0u8; 8];
        a.copy_from_slice(b);
        Ok(i64::from_be_bytes(a))
    }

    pub(crate) fn bytes(&mut self) -> Result<&'a [u8], Fail> {
        let n = self.u32()? as usize;
        self.take(n)
    }

    pub(crate) fn str(&mut self) -> Result<&'a str, Fail> {
        std::str::from_utf8(self.bytes()?).map_err(|_| Fail::argument("a string is not UTF-8"))
    }

    /// A context record (see the module docs).
    pub(crate) fn context(&mut self) -> Result<TraceContext, Fail> {
        let flags = self.u8()?;
        let mut ctx = TraceContext {
            remote: flags & 2 != 0,
            ..TraceContext::default()
        };
        if flags & 1 != 0 {
            let trace_id = TraceId::from_hex(ascii(self.take(32)?));
            let span_id = SpanId::from_hex(ascii(self.take(16)?));
            let tflags = TraceFlags(self.u8()?);
            // An invalid or all-zero id is no span context (as opentelemetry-java's
            // `SpanContext.isValid` says); everything else is kept.
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
    pub(crate) fn member(&mut self) -> Result<BaggageMember, Fail> {
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

/// Builds the outputs Java reads. Reuses one buffer per thread, so the hot
/// paths allocate nothing for their output.
pub(crate) struct Writer {
    pub(crate) out: Vec<u8>,
}

thread_local! {
    static SPARE: std::cell::Cell<Vec<u8>> = const { std::cell::Cell::new(Vec::new()) };
}

impl Drop for Writer {
    fn drop(&mut self) {
        let mut v = std::mem::take(&mut self.out);
        if v.capacity() <= 64 << 10 {
            v.clear();
            let _ = SPARE.try_with(|s| s.set(v));
        }
    }
}

impl Writer {
    /// An empty writer (with this thread's spare buffer, if any).
    pub(crate) fn new() -> Self {
        let mut out = SPARE.try_with(|s| s.take()).unwrap_or_default();
        out.clear();
        Writer { out }
    }

    pub(crate) fn u8(&mut self, v: u8) {
        self.out.push(v);
    }

    pub(crate) fn u32(&mut self, v: u32) {
        self.out.extend_from_slice(&v.to_be_bytes());
    }

    pub(crate) fn i64(&mut self, v: i64) {
        self.out.extend_from_slice(&v.to_be_bytes());
    }

    pub(crate) fn f64(&mut self, v: f64) {
        self.out.extend_from_slice(&v.to_bits().to_be_bytes());
    }

    pub(crate) fn bytes(&mut self, b: &[u8]) {
        // Every length here is far below 4 GiB (frames come from a Java array).
        self.u32(u32::try_from(b.len()).unwrap_or(u32::MAX));
        self.out.extend_from_slice(b);
    }

    pub(crate) fn str(&mut self, s: &str) {
        self.bytes(s.as_bytes());
    }

    /// A context record (see the module docs).
    pub(crate) fn context(&mut self, ctx: &TraceContext) {
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
            self.u32(ctx.tracestate.len() as u32);
            for (k, v) in ctx.tracestate.iter() {
                self.str(k);
                self.str(v);
            }
        } else {
            self.u32(0);
        }
        self.u32(ctx.baggage.len() as u32);
        for m in ctx.baggage.iter() {
            self.member(m);
        }
    }

    /// A baggage member (see the module docs).
    pub(crate) fn member(&mut self, m: &BaggageMember) {
        self.str(&m.key);
        self.str(&m.value);
        self.str(&metadata_of(m));
        self.u32(m.properties.len() as u32);
        for (k, v) in &m.properties {
            self.str(k);
            self.u8(u8::from(v.is_some()));
            self.str(v.as_deref().unwrap_or(""));
        }
    }
}
