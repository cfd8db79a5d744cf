//! OpenTelemetry integration (feature `otel`): conversions between
//! [`TraceContext`] and [`opentelemetry::Context`], adapters between the
//! handshake carriers and the `opentelemetry` propagation traits, and a
//! [`W3CPropagator`] backed by this crate's parsers; with feature `otlp`,
//! OTLP/HTTP export set up from the standard environment ([`export`]).

#[cfg(feature = "otlp")]
pub mod export;
mod spans;
mod stream;

pub use spans::{PreparedSpan, SpanSources, start_span};
pub use stream::{StreamInstruments, StreamSpan};

use crate::baggage::BaggageMember;
use crate::context::TraceContext;
use crate::handshake::{self, BAGGAGE, HeaderSink, HeaderSource, TRACEPARENT, TRACESTATE};
use crate::traceparent::{SpanId, TraceFlags, TraceId, TraceParent};
use crate::{Baggage, Received, TraceState};
use opentelemetry::baggage::{BaggageExt, BaggageMetadata, KeyValueMetadata};
use opentelemetry::propagation::{
    Extractor, Injector, TextMapPropagator, text_map_propagator::FieldIter,
};
use opentelemetry::trace::{self as ot, TraceContextExt};
use std::sync::OnceLock;

impl From<ot::TraceId> for TraceId {
    fn from(id: ot::TraceId) -> Self {
        TraceId(id.to_bytes())
    }
}

impl From<TraceId> for ot::TraceId {
    fn from(id: TraceId) -> Self {
        ot::TraceId::from_bytes(id.0)
    }
}

impl From<ot::SpanId> for SpanId {
    fn from(id: ot::SpanId) -> Self {
        SpanId(id.to_bytes())
    }
}

impl From<SpanId> for ot::SpanId {
    fn from(id: SpanId) -> Self {
        ot::SpanId::from_bytes(id.0)
    }
}

/// What `opentelemetry` could not hold of a received context (see
/// [`Received`]), kept in the OpenTelemetry context beside the span context,
/// so every context derived from it (child spans included) passes it on.
#[derive(Clone)]
struct Held(Received);

/// `state` as the SDK's `TraceState`, and whether it rejected members.
fn sdk_trace_state(state: &TraceState) -> (ot::TraceState, bool) {
    if let Ok(whole) = ot::TraceState::from_key_value(state.iter()) {
        return (whole, false);
    }
    let accepted = state
        .iter()
        .filter(|member| ot::TraceState::from_key_value(std::iter::once(*member)).is_ok());
    (
        ot::TraceState::from_key_value(accepted).unwrap_or_default(),
        true,
    )
}

impl TraceContext {
    /// The span context this context describes (invalid when there is none).
    ///
    /// Its `TraceState` holds the members `opentelemetry` accepts; members
    /// with keys that crate rejects are kept only by
    /// [`to_otel_context`](Self::to_otel_context).
    pub fn to_span_context(&self) -> ot::SpanContext {
        let Some(tp) = self.traceparent else {
            return ot::SpanContext::empty_context();
        };
        ot::SpanContext::new(
            tp.trace_id.into(),
            tp.span_id.into(),
            ot::TraceFlags::new(tp.flags.0),
            self.remote,
            sdk_trace_state(&self.tracestate).0,
        )
    }

    /// `parent` with this context's span context (as a remote parent when
    /// [`remote`](Self::remote)) and baggage. The whole tracestate is kept,
    /// including members `opentelemetry`'s `TraceState` rejects, and so is
    /// the random flag, which `opentelemetry_sdk` drops from a span it does
    /// not sample: spans started from the result and
    /// [`from_otel_context`](Self::from_otel_context) (hence every inject)
    /// pass them on ([`Received::pass_on`]).
    pub fn to_otel_context(&self, parent: &opentelemetry::Context) -> opentelemetry::Context {
        let mut cx = parent.clone();
        if let Some(tp) = self.traceparent {
            let (state, rejected) = sdk_trace_state(&self.tracestate);
            if rejected || tp.flags.is_random() {
                cx = cx.with_value(Held(Received {
                    traceparent: tp,
                    tracestate: self.tracestate.clone(),
                    accepted: TraceState::from_entries(&state).unwrap_or_default(),
                }));
            }
            cx = cx.with_remote_span_context(ot::SpanContext::new(
                tp.trace_id.into(),
                tp.span_id.into(),
                ot::TraceFlags::new(tp.flags.0),
                self.remote,
                state,
            ));
        }
        with_baggage(cx, &self.baggage)
    }

    /// The span context and baggage of an OpenTelemetry context, to send on.
    pub fn from_otel_context(cx: &opentelemetry::Context) -> TraceContext {
        let span = cx.span();
        let sc = span.span_context();
        let sending = sc.is_valid().then(|| TraceParent {
            trace_id: sc.trace_id().into(),
            span_id: sc.span_id().into(),
            flags: TraceFlags(sc.trace_flags().to_u8()),
        });
        let (traceparent, tracestate) = match sending {
            Some(tp) => {
                // A state the SDK accepted but our parser would not is
                // dropped, as a receiver would drop it.
                let sdk = TraceState::from_entries(sc.trace_state()).unwrap_or_default();
                match cx.get::<Held>() {
                    Some(Held(received)) => {
                        let (tp, state) = received.pass_on(tp, &sdk);
                        (Some(tp), state)
                    }
                    None => (Some(tp), sdk),
                }
            }
            None => (None, TraceState::new()),
        };
        let mut baggage = Baggage::new();
        for (key, (value, metadata)) in cx.baggage() {
            let _ = baggage.insert_member(BaggageMember {
                key: key.as_str().to_owned(),
                value: value.as_str().to_owned(),
                properties: metadata_to_properties(metadata),
            });
        }
        TraceContext {
            traceparent,
            tracestate,
            baggage,
            remote: sc.is_remote(),
        }
    }
}

/// `cx` with `baggage` (unchanged when `baggage` is empty).
pub(crate) fn with_baggage(
    cx: opentelemetry::Context,
    baggage: &Baggage,
) -> opentelemetry::Context {
    if baggage.is_empty() {
        return cx;
    }
    cx.with_baggage(
        baggage.iter().map(|m| {
            KeyValueMetadata::new(m.key.clone(), m.value.clone(), properties_to_metadata(m))
        }),
    )
}

/// OpenTelemetry keeps a member's properties as one opaque metadata string,
/// which its propagators copy to and from the header as they are: so it holds
/// them in wire form, values percent-encoded (a decoded `%20` at the end of a
/// value would otherwise be trimmed away on the next extraction).
fn properties_to_metadata(m: &BaggageMember) -> String {
    let mut out = String::new();
    for (i, property) in m.properties.iter().enumerate() {
        if i > 0 {
            out.push(';');
        }
        crate::baggage::write_property(&mut out, property);
    }
    out
}

/// The properties in a metadata string; one that is not a valid property
/// (metadata set by hand can hold anything) is left out.
fn metadata_to_properties(metadata: &BaggageMetadata) -> Vec<(String, Option<String>)> {
    metadata
        .as_str()
        .split(';')
        .filter(|p| !p.trim().is_empty())
        .filter_map(|p| crate::baggage::parse_property(p).ok())
        .collect()
}

/// Lets an OpenTelemetry [`Injector`] receive the handshake headers.
pub struct InjectorSink<'a>(pub &'a mut dyn Injector);

impl HeaderSink for InjectorSink<'_> {
    fn set(&mut self, name: &'static str, value: &str) {
        self.0.set(name, value.to_owned());
    }
}

/// Lets the handshake read headers from an OpenTelemetry [`Extractor`].
pub struct ExtractorSource<'a>(pub &'a dyn Extractor);

impl HeaderSource for ExtractorSource<'_> {
    fn for_each_value<'a>(&'a self, name: &str, f: &mut dyn FnMut(&'a str)) {
        // `get_all` falls back to `get` for extractors that do not override it.
        if let Some(values) = self.0.get_all(name) {
            values.into_iter().for_each(f);
        }
    }
}

/// A [`TextMapPropagator`] for W3C `traceparent`, `tracestate` and `baggage`
/// backed by this crate's parsers: one propagator for both Trace Context and
/// Baggage, producing the same headers as the SDK's pair.
#[derive(Debug, Default, Clone, Copy)]
pub struct W3CPropagator;

impl TextMapPropagator for W3CPropagator {
    fn inject_context(&self, cx: &opentelemetry::Context, injector: &mut dyn Injector) {
        handshake::inject(
            &TraceContext::from_otel_context(cx),
            &mut InjectorSink(injector),
        );
    }

    fn extract_with_context(
        &self,
        cx: &opentelemetry::Context,
        extractor: &dyn Extractor,
    ) -> opentelemetry::Context {
        let (ctx, _issues) = handshake::extract(&ExtractorSource(extractor), None);
        ctx.to_otel_context(cx)
    }

    fn fields(&self) -> FieldIter<'_> {
        static FIELDS: OnceLock<[String; 3]> = OnceLock::new();
        FieldIter::new(
            FIELDS.get_or_init(|| [TRACEPARENT.into(), TRACESTATE.into(), BAGGAGE.into()]),
        )
    }
}
