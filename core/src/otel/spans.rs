//! Applying core's span decisions ([`crate::model`]) with the `opentelemetry` API.

use crate::attributes::{KeyValue, Value};
use crate::context::TraceContext;
use crate::model::{LinkSource, ParentSource, SpanDecision, SpanKind};
use opentelemetry::trace::{Link, SpanBuilder, TraceContextExt, Tracer};
use opentelemetry::{Context, StringValue};
use std::borrow::Cow;
use std::sync::Arc;

/// Where each parent and link candidate of a decision comes from.
#[derive(Debug, Clone, Copy)]
pub struct SpanSources<'a> {
    /// The caller's current context.
    pub ambient: &'a Context,
    /// The context received with the handshake or the message, if any.
    pub remote: Option<&'a TraceContext>,
    /// The context holding the connection span, once there is one.
    pub connection: Option<&'a Context>,
}

impl From<&KeyValue> for opentelemetry::KeyValue {
    /// Strings become reference-counted, so clones of the result are cheap.
    fn from(kv: &KeyValue) -> Self {
        let value = match &kv.value {
            Value::String(Cow::Borrowed(s)) => opentelemetry::Value::String(StringValue::from(*s)),
            Value::String(Cow::Owned(s)) => {
                opentelemetry::Value::String(StringValue::from(Arc::<str>::from(s.as_str())))
            }
            Value::Int(i) => opentelemetry::Value::I64(*i),
            Value::Float(f) => opentelemetry::Value::F64(*f),
            Value::Bool(b) => opentelemetry::Value::Bool(*b),
        };
        opentelemetry::KeyValue::new(kv.key, value)
    }
}

impl From<SpanKind> for opentelemetry::trace::SpanKind {
    fn from(kind: SpanKind) -> Self {
        match kind {
            SpanKind::Client => opentelemetry::trace::SpanKind::Client,
            SpanKind::Server => opentelemetry::trace::SpanKind::Server,
            SpanKind::Producer => opentelemetry::trace::SpanKind::Producer,
            SpanKind::Consumer => opentelemetry::trace::SpanKind::Consumer,
            SpanKind::Internal => opentelemetry::trace::SpanKind::Internal,
        }
    }
}

fn has_span(cx: &Context) -> bool {
    cx.span().span_context().is_valid()
}

/// The parent context the decision picks from `sources`, or a fresh root
/// context when no candidate is available.
fn parent(candidates: &[ParentSource], s: &SpanSources<'_>) -> Context {
    for source in candidates {
        match source {
            ParentSource::Remote => {
                if let Some(remote) = s.remote.filter(|r| r.traceparent.is_some()) {
                    return remote.to_otel_context(&Context::new());
                }
            }
            ParentSource::Ambient => {
                if has_span(s.ambient) {
                    return s.ambient.clone();
                }
            }
            ParentSource::AmbientInConnectionTrace => {
                if let Some(conn) = s.connection
                    && has_span(s.ambient)
                    && s.ambient.span().span_context().trace_id()
                        == conn.span().span_context().trace_id()
                {
                    return s.ambient.clone();
                }
            }
            ParentSource::Connection => {
                if let Some(conn) = s.connection.filter(|c| has_span(c)) {
                    return conn.clone();
                }
            }
        }
    }
    // A new trace keeps the remote baggage if a message brought any.
    match s.remote {
        Some(remote) => remote.to_otel_context(&Context::new()),
        None => Context::new(),
    }
}

/// A [`SpanDecision`] converted to `opentelemetry` types once, to start many
/// spans from (a connection's sends, say) without converting each time.
#[derive(Debug, Clone)]
pub struct PreparedSpan {
    name: Cow<'static, str>,
    kind: opentelemetry::trace::SpanKind,
    parent: &'static [ParentSource],
    links: &'static [LinkSource],
    attributes: Vec<opentelemetry::KeyValue>,
}

impl PreparedSpan {
    /// Converts `decision`, leaving out the attributes named in `per_span`
    /// (values that change from span to span, given to [`start`](Self::start)).
    pub fn new(decision: SpanDecision, per_span: &[&str]) -> Self {
        PreparedSpan {
            name: Cow::Owned(decision.name),
            kind: decision.kind.into(),
            parent: decision.parent,
            links: decision.links,
            attributes: decision
                .attributes
                .iter()
                .filter(|kv| !per_span.contains(&kv.key))
                .map(opentelemetry::KeyValue::from)
                .collect(),
        }
    }

    /// Starts the span with `extra` attributes and returns its context: the
    /// chosen parent's context (with its baggage) holding the new span.
    pub fn start<T>(
        &self,
        tracer: &T,
        extra: impl IntoIterator<Item = opentelemetry::KeyValue>,
        sources: &SpanSources<'_>,
    ) -> Context
    where
        T: Tracer,
        T::Span: Send + Sync + 'static,
    {
        let parent_cx = parent(self.parent, sources);
        let parent_span = parent_cx.span().span_context().span_id();
        let links: Vec<Link> = self
            .links
            .iter()
            .filter_map(|l| match l {
                LinkSource::Connection => sources.connection,
            })
            .map(|cx| cx.span().span_context().clone())
            .filter(|sc| sc.is_valid() && sc.span_id() != parent_span)
            .map(Link::with_context)
            .collect();
        let mut attributes = Vec::with_capacity(self.attributes.len() + 2);
        attributes.extend(self.attributes.iter().cloned());
        attributes.extend(extra);
        let builder = SpanBuilder::from_name(self.name.clone())
            .with_kind(self.kind.clone())
            .with_attributes(attributes)
            .with_links(links);
        let span = tracer.build_with_context(builder, &parent_cx);
        parent_cx.with_span(span)
    }
}

/// Starts the span `decision` describes and returns its context: the chosen
/// parent's context (with its baggage) holding the new span.
pub fn start_span<T>(tracer: &T, decision: SpanDecision, sources: &SpanSources<'_>) -> Context
where
    T: Tracer,
    T::Span: Send + Sync + 'static,
{
    PreparedSpan::new(decision, &[]).start(tracer, [], sources)
}
