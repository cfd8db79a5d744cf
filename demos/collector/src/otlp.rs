//! Decoding OTLP/HTTP export requests (protobuf or JSON, optionally gzip)
//! into flat span records, and encoding the matching empty responses.

use std::io::Read;

use opentelemetry_proto::tonic::collector::trace::v1::{
    ExportTraceServiceRequest, ExportTraceServiceResponse,
};
use opentelemetry_proto::tonic::common::v1::{AnyValue, KeyValue, any_value};
use opentelemetry_proto::tonic::trace::v1::span::SpanKind;
use opentelemetry_proto::tonic::trace::v1::status::StatusCode;
use prost::Message;
use serde_json::{Map, Value, json};

/// How a request body is encoded, from its `Content-Type`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Encoding {
    /// `application/x-protobuf`
    Protobuf,
    /// `application/json`
    Json,
}

impl Encoding {
    /// The encoding named by a `Content-Type` value (parameters ignored).
    pub fn from_content_type(value: &str) -> Result<Self, String> {
        match value.split(';').next().unwrap_or("").trim() {
            "application/x-protobuf" | "application/protobuf" => Ok(Self::Protobuf),
            "application/json" => Ok(Self::Json),
            other => Err(format!(
                "unsupported Content-Type {other:?}: OTLP/HTTP uses application/x-protobuf or application/json"
            )),
        }
    }

    /// The `Content-Type` of a response in this encoding.
    pub fn content_type(self) -> &'static str {
        match self {
            Self::Protobuf => "application/x-protobuf",
            Self::Json => "application/json",
        }
    }

    /// An empty export response (what every signal answers on success).
    pub fn empty_response(self) -> Vec<u8> {
        match self {
            Self::Protobuf => ExportTraceServiceResponse::default().encode_to_vec(),
            Self::Json => b"{}".to_vec(),
        }
    }
}

/// One received span, flattened with its resource's service and language.
#[derive(Debug, Clone, PartialEq)]
pub struct SpanRecord {
    /// 32 lowercase hex digits.
    pub trace_id: String,
    /// 16 lowercase hex digits.
    pub span_id: String,
    /// The parent's span id; `None` for a root.
    pub parent_span_id: Option<String>,
    /// The span name.
    pub name: String,
    /// `internal`, `server`, `client`, `producer`, `consumer` or `unspecified`.
    pub kind: &'static str,
    /// The resource's `service.name`.
    pub service: String,
    /// The resource's `telemetry.sdk.language`.
    pub language: String,
    /// Start, in nanoseconds since the Unix epoch.
    pub start_unix_nano: u64,
    /// End, in nanoseconds since the Unix epoch.
    pub end_unix_nano: u64,
    /// `unset`, `ok` or `error`, and the status message.
    pub status: (&'static str, String),
    /// Attributes as JSON values.
    pub attributes: Map<String, Value>,
    /// Events as `{"name", "time_unix_nano", "attributes"}`.
    pub events: Vec<Value>,
    /// Links as `{"trace_id", "span_id", "attributes"}`.
    pub links: Vec<Value>,
}

impl SpanRecord {
    /// The record in the layout of the output file.
    pub fn to_json(&self) -> Value {
        json!({
            "trace_id": self.trace_id,
            "span_id": self.span_id,
            "parent_span_id": self.parent_span_id,
            "name": self.name,
            "kind": self.kind,
            "service": self.service,
            "language": self.language,
            "start_unix_nano": self.start_unix_nano,
            "end_unix_nano": self.end_unix_nano,
            "status": {"code": self.status.0, "message": self.status.1},
            "attributes": self.attributes,
            "events": self.events,
            "links": self.links,
        })
    }
}

/// Undoes `Content-Encoding` (only `gzip` and `identity` are accepted).
pub fn decompress(content_encoding: Option<&str>, body: &[u8]) -> Result<Vec<u8>, String> {
    match content_encoding.map(str::trim) {
        None | Some("") | Some("identity") => Ok(body.to_vec()),
        Some("gzip") => {
            let mut out = Vec::with_capacity(body.len() * 4);
            flate2::read::GzDecoder::new(body)
                .read_to_end(&mut out)
                .map_err(|e| format!("body is not valid gzip: {e}"))?;
            Ok(out)
        }
        Some(other) => Err(format!(
            "unsupported Content-Encoding {other:?} (gzip or identity)"
        )),
    }
}

/// Parses a `/v1/traces` body into span records.
pub fn decode_traces(encoding: Encoding, body: &[u8]) -> Result<Vec<SpanRecord>, String> {
    let request = match encoding {
        Encoding::Protobuf => ExportTraceServiceRequest::decode(body)
            .map_err(|e| format!("body is not an OTLP ExportTraceServiceRequest: {e}"))?,
        Encoding::Json => serde_json::from_slice(body)
            .map_err(|e| format!("body is not OTLP JSON for traces: {e}"))?,
    };
    let mut records = Vec::new();
    for resource_spans in request.resource_spans {
        let resource = resource_spans.resource.unwrap_or_default();
        let service = string_attribute(&resource.attributes, "service.name");
        let language = string_attribute(&resource.attributes, "telemetry.sdk.language");
        for span in resource_spans.scope_spans.into_iter().flat_map(|s| s.spans) {
            let status = span.status.unwrap_or_default();
            records.push(SpanRecord {
                trace_id: hex_id(&span.trace_id, 16, "trace_id")?,
                span_id: hex_id(&span.span_id, 8, "span_id")?,
                parent_span_id: if span.parent_span_id.is_empty() {
                    None
                } else {
                    Some(hex_id(&span.parent_span_id, 8, "parent_span_id")?)
                },
                name: span.name,
                kind: kind_name(span.kind),
                service: service.clone(),
                language: language.clone(),
                start_unix_nano: span.start_time_unix_nano,
                end_unix_nano: span.end_time_unix_nano,
                status: (status_name(status.code), status.message),
                attributes: attributes(&span.attributes),
                events: span
                    .events
                    .iter()
                    .map(|e| {
                        json!({"name": e.name, "time_unix_nano": e.time_unix_nano,
                               "attributes": attributes(&e.attributes)})
                    })
                    .collect(),
                links: span
                    .links
                    .iter()
                    .map(|l| {
                        Ok(
                            json!({"trace_id": hex_id(&l.trace_id, 16, "link trace_id")?,
                                  "span_id": hex_id(&l.span_id, 8, "link span_id")?,
                                  "attributes": attributes(&l.attributes)}),
                        )
                    })
                    .collect::<Result<_, String>>()?,
            });
        }
    }
    Ok(records)
}

fn hex_id(bytes: &[u8], len: usize, what: &str) -> Result<String, String> {
    if bytes.len() != len {
        return Err(format!("{what} has {} bytes, expected {len}", bytes.len()));
    }
    Ok(bytes.iter().map(|b| format!("{b:02x}")).collect())
}

fn kind_name(kind: i32) -> &'static str {
    match SpanKind::try_from(kind) {
        Ok(SpanKind::Internal) => "internal",
        Ok(SpanKind::Server) => "server",
        Ok(SpanKind::Client) => "client",
        Ok(SpanKind::Producer) => "producer",
        Ok(SpanKind::Consumer) => "consumer",
        Ok(SpanKind::Unspecified) | Err(_) => "unspecified",
    }
}

fn status_name(code: i32) -> &'static str {
    match StatusCode::try_from(code) {
        Ok(StatusCode::Ok) => "ok",
        Ok(StatusCode::Error) => "error",
        Ok(StatusCode::Unset) | Err(_) => "unset",
    }
}

fn string_attribute(attributes: &[KeyValue], key: &str) -> String {
    match attributes
        .iter()
        .find(|kv| kv.key == key)
        .map(|kv| value(kv.value.as_ref()))
    {
        Some(Value::String(s)) => s,
        Some(other) => other.to_string(),
        None => "unknown".to_owned(),
    }
}

fn attributes(attributes: &[KeyValue]) -> Map<String, Value> {
    attributes
        .iter()
        .map(|kv| (kv.key.clone(), value(kv.value.as_ref())))
        .collect()
}

fn value(any: Option<&AnyValue>) -> Value {
    use any_value::Value as V;
    match any.and_then(|v| v.value.as_ref()) {
        None => Value::Null,
        Some(V::StringValue(s)) => Value::String(s.clone()),
        Some(V::BoolValue(b)) => Value::Bool(*b),
        Some(V::IntValue(i)) => Value::from(*i),
        Some(V::DoubleValue(d)) => Value::from(*d),
        Some(V::BytesValue(b)) => Value::String(b.iter().map(|x| format!("{x:02x}")).collect()),
        Some(V::ArrayValue(a)) => Value::Array(a.values.iter().map(|v| value(Some(v))).collect()),
        Some(V::KvlistValue(kv)) => Value::Object(attributes(&kv.values)),
        #[allow(unreachable_patterns)] // newer protos add variants (e.g. string references)
        Some(_) => Value::Null,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use opentelemetry_proto::tonic::resource::v1::Resource;
    use opentelemetry_proto::tonic::trace::v1::{ResourceSpans, ScopeSpans, Span};

    fn kv(key: &str, v: any_value::Value) -> KeyValue {
        KeyValue {
            key: key.into(),
            value: Some(AnyValue { value: Some(v) }),
            ..Default::default()
        }
    }

    fn request() -> ExportTraceServiceRequest {
        let span = Span {
            trace_id: vec![0xab; 16],
            span_id: vec![1; 8],
            parent_span_id: vec![2; 8],
            name: "send /voice".into(),
            kind: SpanKind::Producer as i32,
            start_time_unix_nano: 10,
            end_time_unix_nano: 30,
            attributes: vec![kv("n", any_value::Value::IntValue(3))],
            ..Default::default()
        };
        ExportTraceServiceRequest {
            resource_spans: vec![ResourceSpans {
                resource: Some(Resource {
                    attributes: vec![
                        kv(
                            "service.name",
                            any_value::Value::StringValue("device".into()),
                        ),
                        kv(
                            "telemetry.sdk.language",
                            any_value::Value::StringValue("python".into()),
                        ),
                    ],
                    ..Default::default()
                }),
                scope_spans: vec![ScopeSpans {
                    spans: vec![span],
                    ..Default::default()
                }],
                ..Default::default()
            }],
        }
    }

    #[test]
    fn protobuf_request_becomes_records() {
        let body = request().encode_to_vec();
        let records = decode_traces(Encoding::Protobuf, &body).unwrap();
        assert_eq!(records.len(), 1);
        let r = &records[0];
        assert_eq!(r.trace_id, "ab".repeat(16));
        assert_eq!(r.parent_span_id.as_deref(), Some("0202020202020202"));
        assert_eq!(
            (r.kind, r.service.as_str(), r.language.as_str()),
            ("producer", "device", "python")
        );
        assert_eq!(r.attributes["n"], json!(3));
        assert_eq!((r.start_unix_nano, r.end_unix_nano), (10, 30));
    }

    #[test]
    fn json_request_with_hex_ids_and_string_integers() {
        let body = br#"{"resourceSpans":[{"resource":{"attributes":[
            {"key":"service.name","value":{"stringValue":"tts"}}]},
          "scopeSpans":[{"spans":[{"traceId":"0af7651916cd43dd8448eb211c80319c",
            "spanId":"b7ad6b7169203331","name":"synthesize","kind":1,
            "startTimeUnixNano":"1000","endTimeUnixNano":"2500",
            "attributes":[{"key":"demo.turn","value":{"intValue":"2"}}],
            "status":{"code":2,"message":"boom"}}]}]}]}"#;
        let records = decode_traces(Encoding::Json, body).unwrap();
        let r = &records[0];
        assert_eq!(r.trace_id, "0af7651916cd43dd8448eb211c80319c");
        assert_eq!(r.parent_span_id, None);
        assert_eq!(
            (r.kind, r.status.0, r.status.1.as_str()),
            ("internal", "error", "boom")
        );
        assert_eq!(r.attributes["demo.turn"], json!(2));
        assert_eq!((r.start_unix_nano, r.end_unix_nano), (1000, 2500));
        assert_eq!(r.language, "unknown");
    }

    #[test]
    fn gzip_bodies_are_inflated() {
        use std::io::Write;
        let raw = request().encode_to_vec();
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        gz.write_all(&raw).unwrap();
        let inflated = decompress(Some("gzip"), &gz.finish().unwrap()).unwrap();
        assert_eq!(inflated, raw);
        assert!(
            decompress(Some("gzip"), b"not gzip")
                .unwrap_err()
                .contains("gzip")
        );
        assert!(decompress(Some("br"), b"").unwrap_err().contains("br"));
    }

    #[test]
    fn bad_bodies_say_what_is_wrong() {
        assert!(
            decode_traces(Encoding::Protobuf, b"\xff\xff\xff")
                .unwrap_err()
                .contains("ExportTraceServiceRequest")
        );
        assert!(
            decode_traces(Encoding::Json, b"{\"resourceSpans\": 3}")
                .unwrap_err()
                .contains("OTLP JSON")
        );
        let mut short = request();
        short.resource_spans[0].scope_spans[0].spans[0].span_id = vec![1; 3];
        let err = decode_traces(Encoding::Protobuf, &short.encode_to_vec()).unwrap_err();
        assert!(err.contains("span_id has 3 bytes"), "{err}");
        assert!(
            Encoding::from_content_type("text/plain")
                .unwrap_err()
                .contains("text/plain")
        );
        assert_eq!(
            Encoding::from_content_type("application/json; charset=utf-8"),
            Ok(Encoding::Json)
        );
    }
}
