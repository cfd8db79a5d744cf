//! Envelopes: the codec of a negotiated connection, the JSON envelope, the
//! binary envelope, and what decoding a frame gave.

use crate::context::sending;
use crate::errors::{JsResult, to_js};
use crate::values::{self, set};
use js_sys::Object;
use tracewire::envelope::codec::{self, Codec};
use tracewire::envelope::json::JsonEnvelope as CoreJson;
use tracewire::envelope::{Decoded as CoreDecoded, binary};
use tracewire::handshake::Envelopes;
use tracewire::model::MessageType;
use tracewire::{EnvelopeError, TraceContext};
use tracewire_bridge::{BridgeError, Coded, DecodedKind};
use wasm_bindgen::prelude::*;

/// The JSON envelope's placement: `mcp`, else `path` (the default member
/// when absent or empty), and whether receiving strips (the core's default
/// when absent).
fn json_envelope(path: Option<String>, mcp: bool, strip: Option<bool>) -> JsResult<CoreJson> {
    let env = if mcp {
        CoreJson::mcp()
    } else {
        match path.as_deref().filter(|p| !p.is_empty()) {
            Some(p) => CoreJson::at_path(p).map_err(to_js)?,
            None => CoreJson::default(),
        }
    };
    Ok(match strip {
        Some(s) => env.strip_on_extract(s),
        None => env,
    })
}

/// What decoding one received frame gave. The payload is the frame itself
/// (`changed` false), a suffix of it (`payloadOffset`, binary envelopes), or
/// a new one (`payloadText` / `payloadBytes`, stripped JSON).
#[wasm_bindgen]
pub struct Decoded {
    kind: DecodedKind,
    context: Option<TraceContext>,
    error: Option<EnvelopeError>,
    owned: Option<Vec<u8>>,
    offset: usize,
    body_size: usize,
}

impl Decoded {
    fn new(frame: &[u8], d: CoreDecoded<'_>, body_size: usize) -> Decoded {
        let kind = DecodedKind::of(&d);
        let (context, error, payload) = match d {
            CoreDecoded::Plain(p) => (None, None, std::borrow::Cow::Borrowed(p)),
            CoreDecoded::Enveloped(ctx, p) => (Some(ctx), None, p),
            CoreDecoded::Malformed(e, p) => (None, Some(e), std::borrow::Cow::Borrowed(p)),
        };
        let (owned, offset) = match payload {
            // Borrowed payloads are the frame or its tail: say where it starts.
            std::borrow::Cow::Borrowed(p) => (None, frame.len() - p.len()),
            std::borrow::Cow::Owned(p) => (Some(p), 0),
        };
        Decoded {
            kind,
            context,
            error,
            owned,
            offset,
            body_size,
        }
    }
}

#[wasm_bindgen]
impl Decoded {
    /// `plain`, `enveloped` or `malformed`.
    #[wasm_bindgen(getter)]
    pub fn kind(&self) -> String {
        self.kind.name().to_owned()
    }

    /// Whether the payload differs from the frame.
    #[wasm_bindgen(getter)]
    pub fn changed(&self) -> bool {
        self.owned.is_some() || self.offset != 0
    }

    /// Where the payload starts in the frame, when it is the frame's tail.
    #[wasm_bindgen(getter, js_name = payloadOffset)]
    pub fn payload_offset(&self) -> usize {
        self.offset
    }

    /// A new text payload (stripped JSON), when there is one.
    #[wasm_bindgen(getter, js_name = payloadText)]
    pub fn payload_text(&self) -> Option<String> {
        self.owned
            .as_deref()
            .map(|p| String::from_utf8_lossy(p).into_owned())
    }

    /// A new payload's bytes, when there is one.
    #[wasm_bindgen(getter, js_name = payloadBytes)]
    pub fn payload_bytes(&self) -> Option<Vec<u8>> {
        self.owned.clone()
    }

    /// The received context (`enveloped` only), as `values::context` writes it.
    #[wasm_bindgen(getter)]
    pub fn context(&self) -> JsValue {
        self.context
            .as_ref()
            .map_or(JsValue::UNDEFINED, |c| values::context(c).into())
    }

    /// The error (`malformed` only), a `TracewireError`.
    #[wasm_bindgen(getter)]
    pub fn error(&self) -> JsValue {
        self.error
            .clone()
            .map_or(JsValue::UNDEFINED, |e| to_js(BridgeError::from(e)))
    }

    /// The OpenTelemetry `exception` event a receive span records for the
    /// error: `{name, attributes}`.
    #[wasm_bindgen(getter, js_name = exceptionEvent)]
    pub fn exception_event(&self) -> JsValue {
        self.error.as_ref().map_or(JsValue::UNDEFINED, |e| {
            let ev = codec::exception_event(e);
            let o = Object::new();
            set(&o, "name", ev.name);
            set(&o, "attributes", values::attributes(&ev.attributes));
            o.into()
        })
    }

    /// `messaging.message.body.size`: the payload's size without the
    /// envelope, stripped or not.
    #[wasm_bindgen(getter, js_name = bodySize)]
    pub fn body_size(&self) -> usize {
        self.body_size
    }
}

/// Every frame of one connection, as its negotiation says (PROTOCOL 3.4).
#[wasm_bindgen(js_name = Codec)]
pub struct JsCodec(Codec);

#[wasm_bindgen(js_class = Codec)]
impl JsCodec {
    /// The codec for the negotiated envelopes and the JSON placement
    /// (`path`, or MCP mode) and strip setting.
    #[wasm_bindgen(constructor)]
    pub fn new(
        json: bool,
        binary: bool,
        path: Option<String>,
        mcp: bool,
        strip: Option<bool>,
    ) -> JsResult<JsCodec> {
        let envelopes = Envelopes { json, binary };
        Ok(JsCodec(Codec::new(
            envelopes,
            json_envelope(path, mcp, strip)?,
        )))
    }

    /// The text frame to send for `payload` in the given span context, or
    /// `undefined` to send `payload` as it is.
    #[wasm_bindgen(js_name = encodeText)]
    pub fn encode_text(
        &self,
        payload: &str,
        trace_id: Option<String>,
        span_id: Option<String>,
        flags: u8,
        tracestate: Option<String>,
        baggage: Option<String>,
    ) -> Option<String> {
        let ctx = sending(trace_id, span_id, flags, tracestate, baggage);
        let mut out = Vec::new();
        self.0
            .encode_into(MessageType::Text, payload.as_bytes(), &ctx, &mut out)
            // The core keeps a text payload UTF-8.
            .then(|| String::from_utf8_lossy(&out).into_owned())
    }

    /// The binary frame to send for `payload`, or `undefined` to send it as
    /// it is.
    #[wasm_bindgen(js_name = encodeBinary)]
    pub fn encode_binary(
        &self,
        payload: &[u8],
        trace_id: Option<String>,
        span_id: Option<String>,
        flags: u8,
        tracestate: Option<String>,
        baggage: Option<String>,
    ) -> Option<Vec<u8>> {
        let ctx = sending(trace_id, span_id, flags, tracestate, baggage);
        let mut out = Vec::new();
        self.0
            .encode_into(MessageType::Binary, payload, &ctx, &mut out)
            .then_some(out)
    }

    /// Decodes a received text frame.
    #[wasm_bindgen(js_name = decodeText)]
    pub fn decode_text(&self, frame: &str) -> Decoded {
        self.decode(MessageType::Text, frame.as_bytes())
    }

    /// Decodes a received binary frame.
    #[wasm_bindgen(js_name = decodeBinary)]
    pub fn decode_binary(&self, frame: &[u8]) -> Decoded {
        self.decode(MessageType::Binary, frame)
    }
}

#[wasm_bindgen(js_class = Codec)]
impl JsCodec {
    /// [`decode_text`](Self::decode_text) packed in one string, for the
    /// receive path: no object is built in WebAssembly (see [`packed`]).
    /// The payload follows when it differs from the frame.
    #[wasm_bindgen(js_name = decodeTextPacked)]
    pub fn decode_text_packed(&self, frame: &str) -> String {
        let d = self.0.decode(MessageType::Text, frame.as_bytes());
        let size = self.0.payload_size(MessageType::Text, &d);
        let owned = match &d {
            CoreDecoded::Enveloped(_, std::borrow::Cow::Owned(p)) => Some(p.as_slice()),
            _ => None,
        };
        let mut out = packed(&d, size, owned.is_some());
        if let Some(p) = owned {
            out.push_str(&String::from_utf8_lossy(p));
        }
        out
    }

    /// [`decode_binary`](Self::decode_binary) packed in one string (see
    /// [`packed`]); the payload's offset in the frame follows when it
    /// differs from the frame.
    #[wasm_bindgen(js_name = decodeBinaryPacked)]
    pub fn decode_binary_packed(&self, frame: &[u8]) -> String {
        let d = self.0.decode(MessageType::Binary, frame);
        let size = self.0.payload_size(MessageType::Binary, &d);
        let offset = frame.len() - d.payload().len();
        let mut out = packed(&d, size, offset != 0);
        if offset != 0 {
            out.push_str(&offset.to_string());
        }
        out
    }
}

/// A decoding outcome in one string: the kind's code (`0` plain, `1`
/// enveloped, `2` malformed: read the details with `decode_*`), `1` when the
/// payload differs from the frame, the body size, `\n`; when enveloped, the
/// span context ([`crate::context::push_span_context`], or nothing),
/// `\n`, the `tracestate` header, `\n`, the `baggage` header, `\n` (header
/// values hold no line feed).
fn packed(d: &CoreDecoded<'_>, size: usize, changed: bool) -> String {
    let mut out = String::with_capacity(128);
    out.push(char::from(b'0' + DecodedKind::of(d).code()));
    out.push(if changed { '1' } else { '0' });
    out.push_str(&size.to_string());
    out.push('\n');
    if let CoreDecoded::Enveloped(ctx, _) = d {
        if let Some(tp) = &ctx.traceparent {
            crate::context::push_span_context(&mut out, tp);
        }
        out.push('\n');
        if ctx.traceparent.is_some() {
            out.push_str(&ctx.tracestate.to_header());
        }
        out.push('\n');
        out.push_str(&ctx.baggage.to_header());
        out.push('\n');
    }
    out
}

impl JsCodec {
    fn decode(&self, message_type: MessageType, frame: &[u8]) -> Decoded {
        let d = self.0.decode(message_type, frame);
        let size = self.0.payload_size(message_type, &d);
        Decoded::new(frame, d, size)
    }
}

/// The JSON envelope alone (PROTOCOL 4), whatever was negotiated.
#[wasm_bindgen(js_name = JsonEnvelope)]
pub struct JsJsonEnvelope(CoreJson);

#[wasm_bindgen(js_class = JsonEnvelope)]
impl JsJsonEnvelope {
    /// The envelope at `path` (default `tracewire`), or in MCP mode.
    #[wasm_bindgen(constructor)]
    pub fn new(path: Option<String>, mcp: bool, strip: Option<bool>) -> JsResult<JsJsonEnvelope> {
        json_envelope(path, mcp, strip).map(JsJsonEnvelope)
    }

    /// `frame` with the context written in; throws `not_json_object` when
    /// the frame cannot carry it.
    pub fn inject(
        &self,
        frame: &str,
        trace_id: Option<String>,
        span_id: Option<String>,
        flags: u8,
        tracestate: Option<String>,
        baggage: Option<String>,
    ) -> JsResult<String> {
        let ctx = sending(trace_id, span_id, flags, tracestate, baggage);
        let out = self.0.inject(frame.as_bytes(), &ctx).map_err(to_js)?;
        Ok(String::from_utf8_lossy(&out).into_owned())
    }

    /// Reads a frame's envelope.
    pub fn extract(&self, frame: &str) -> Decoded {
        let d = self.0.extract(frame.as_bytes());
        let size = self.0.payload_size(&d);
        Decoded::new(frame.as_bytes(), d, size)
    }
}

/// `payload` behind a binary envelope holding the context (PROTOCOL 5).
#[wasm_bindgen(js_name = encodeBinaryEnvelope)]
pub fn encode_binary_envelope(
    payload: &[u8],
    trace_id: Option<String>,
    span_id: Option<String>,
    flags: u8,
    tracestate: Option<String>,
    baggage: Option<String>,
) -> Vec<u8> {
    binary::encode(
        &sending(trace_id, span_id, flags, tracestate, baggage),
        payload,
    )
}

/// Reads a binary frame's envelope.
#[wasm_bindgen(js_name = decodeBinaryEnvelope)]
pub fn decode_binary_envelope(frame: &[u8]) -> Decoded {
    let d = binary::decode(frame);
    let size = d.payload().len();
    Decoded::new(frame, d, size)
}
