"""``start_span``: the core's span decisions applied with the SDK."""

from __future__ import annotations

from opentelemetry import baggage, trace
from opentelemetry.context import Context
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind

import tracewire as tw

REMOTE = tw.TraceContext("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01", baggage="k=v", remote=True)


def span_of(ctx: Context) -> trace.Span:
    return trace.get_current_span(ctx)


def test_connection_model_parents_and_links(tracer: trace.Tracer, exporter: InMemorySpanExporter) -> None:
    conn = tw.Connection("connection", "server", "s-1", "/chat")
    accept = tw.start_span(tracer, conn.open(), remote=REMOTE, ambient=Context())
    assert format(span_of(accept).get_span_context().trace_id, "032x") == REMOTE.trace_id
    assert baggage.get_baggage("k", accept) == "v"
    # receive with the message's context: child of it, linked to the connection
    msg = tw.TraceContext("00-4bf92f3577b34da6a3ce929d0e0e4736-1111111111111111-01", remote=True)
    process = tw.start_span(tracer, conn.receive("text", 3), remote=msg, connection=accept)
    # receive without context: child of the connection span (so no link)
    plain = tw.start_span(tracer, conn.receive("text", 3), connection=accept)
    # send with an unrelated ambient span: parent is the connection span
    with tracer.start_as_current_span("elsewhere"):
        send = tw.start_span(tracer, conn.send("binary", 9), connection=accept)
    # send with an ambient span in the connection's trace: parent is that span
    send_in = tw.start_span(tracer, conn.send("binary", 9), ambient=process, connection=accept)
    for ctx in (process, plain, send, send_in):
        span_of(ctx).end()
    span_of(accept).end()
    spans = {s.context.span_id: s for s in exporter.get_finished_spans()}
    a = spans[span_of(accept).get_span_context().span_id]
    p = spans[span_of(process).get_span_context().span_id]
    assert p.kind == SpanKind.CONSUMER and p.parent is not None and p.parent.span_id == 0x1111111111111111
    assert [link.context.span_id for link in p.links] == [a.context.span_id]
    q = spans[span_of(plain).get_span_context().span_id]
    assert q.parent is not None and q.parent.span_id == a.context.span_id and not q.links
    s = spans[span_of(send).get_span_context().span_id]
    assert s.kind == SpanKind.PRODUCER and s.parent is not None and s.parent.span_id == a.context.span_id
    s2 = spans[span_of(send_in).get_span_context().span_id]
    assert s2.parent is not None and s2.parent.span_id == p.context.span_id


def test_message_model_new_traces(tracer: trace.Tracer, exporter: InMemorySpanExporter) -> None:
    conn = tw.Connection("message", "client", "s-2", "/voice")
    connect = tw.start_span(tracer, conn.open(), ambient=Context())
    span_of(connect).end()
    # no ambient span: a send starts a new trace, linked to the connection
    send = tw.start_span(tracer, conn.send("text", 1), ambient=Context(), connection=connect)
    # a message with only baggage: a new trace that keeps the baggage
    bag_only = tw.TraceContext(baggage="tenant=acme", remote=True)
    recv = tw.start_span(tracer, conn.receive("binary", 1), remote=bag_only, connection=connect)
    assert baggage.get_baggage("tenant", recv) == "acme"
    close = conn.close(1000, "")
    assert close.span is not None
    closed = tw.start_span(tracer, close.span, ambient=Context(), connection=connect)
    for ctx in (send, recv, closed):
        span_of(ctx).end()
    c_id = span_of(connect).get_span_context().trace_id
    finished = {x.context.span_id: x for x in exporter.get_finished_spans()}
    for ctx in (send, recv):
        s = finished[span_of(ctx).get_span_context().span_id]
        assert s.parent is None and s.context.trace_id != c_id
        assert [link.context.trace_id for link in s.links] == [c_id]
        assert s.attributes["websocket.session.id"] == "s-2"  # type: ignore[index]
    # The close belongs to the connection's trace: under the connection span.
    c = finished[span_of(closed).get_span_context().span_id]
    assert c.parent is not None and c.parent.span_id == span_of(connect).get_span_context().span_id
    assert c.context.trace_id == c_id and not c.links
