//! Applying core's span decisions ([`crate::model`]) with the `opentelemetry`
//! API: the contexts at hand are read into [`Available`], [`choose`] picks
//! parent, links and baggage, and this module only builds what it picked.

use crate::attributes::{KeyValue, Value};
use crate::context::TraceContext;
use crate::model::{
    Applied, Available, BaggageSource, LinkSource, Parent, ParentSource, SpanDecision, SpanKind,
    choose,
};
use crate::otel::with_baggage;
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

impl SpanSources<'_> {
    /// What these contexts make available, for [`crate::model::choose`].
    pub fn available(&self) -> Available {
        let ambient_span = self.ambient.span();
        let ambient = ambient_span.span_context();
        let connection_span = self.connection.map(|cx| cx.span());
        let connection = connection_span
            .as_ref()
            .map(|span| span.span_context())
            .filter(|sc| sc.is_valid());
        Available {
            remote_has_span: self.remote.is_some_and(|r| r.traceparent.is_some()),
            remote_has_baggage: self.remote.is_some_and(|r| !r.baggage.is_empty()),
            ambient_has_span: ambient.is_valid(),
            ambient_in_connection_trace: connection
                .is_some_and(|c| ambient.is_valid() && c.trace_id() == ambient.trace_id()),
            ambient_is_connection: connection.is_some_and(|c| {
                ambient.is_valid()
                    && c.trace_id() == ambient.trace_id()
                    && c.span_id() == ambient.span_id()
            }),
            connection_has_span: connection.is_some(),
        }
    }

    /// The parent context `applied` names, holding the baggage it names.
    fn parent_context(&self, applied: &Applied) -> Context {
        match (applied.parent, applied.baggage) {
            // The received context as it came: its span and its baggage.
            (Parent::Remote, _) => self
                .remote
                .map(|r| r.to_otel_context(&Context::new()))
                .unwrap_or_default(),
            (Parent::Ambient, _) => self.ambient.clone(),
            (Parent::Connection, _) => self.connection.cloned().unwrap_or_default(),
            (Parent::NewTrace, BaggageSource::Remote) => self
                .remote
                .map(|r| with_baggage(Context::new(), &r.baggage))
                .unwrap_or_default(),
            (Parent::NewTrace, _) => Context::new(),
        }
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
        let applied = choose(self.parent, self.links, sources.available());
        let parent_cx = sources.parent_context(&applied);
        let connection_link = sources
            .connection
            .filter(|_| applied.link_connection)
            .map(|cx| Link::with_context(cx.span().span_context().clone()));
        let remote_link = sources
            .remote
            .filter(|_| applied.link_remote)
            .map(|r| Link::with_context(r.to_span_context()));
        let links: Vec<Link> = connection_link.into_iter().chain(remote_link).collect();
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
