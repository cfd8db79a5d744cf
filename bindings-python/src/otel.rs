//! Conversions between the core's `TraceContext` and opentelemetry-python's
//! `Context`, and the native half of `tracewire.W3CPropagator`.
//!
//! The OpenTelemetry objects are built by calling opentelemetry-python's own
//! public classes (`SpanContext`, `TraceFlags`, `TraceState`,
//! `NonRecordingSpan`, `Context`); only the two context keys under which the
//! API stores the current span and the baggage are read from its modules,
//! so that a context is built with one copy instead of one per value.

use crate::guard;
use crate::headers::{PairSink, header_lines};
use pyo3::intern;
use pyo3::prelude::*;
use pyo3::sync::PyOnceLock;
use pyo3::types::{PyDict, PyString, PyTuple, PyType};
use std::cell::RefCell;
use tracewire::TraceState;
use tracewire::handshake::{self, BAGGAGE, TRACEPARENT, TRACESTATE};
use tracewire::{Baggage, BaggageMember, SpanId, TraceContext, TraceFlags, TraceId, TraceParent};
use tracewire_bridge::cache::Recent;

struct Otel {
    context_cls: Py<PyType>,
    get_current: Py<PyAny>,
    span_context_cls: Py<PyAny>,
    trace_flags_cls: Py<PyAny>,
    trace_state_cls: Py<PyAny>,
    default_trace_state: Py<PyAny>,
    non_recording_span_cls: Py<PyAny>,
    span_key: Py<PyAny>,
    baggage_key: Py<PyAny>,
    default_getter: Py<PyAny>,
    default_setter: Py<PyAny>,
    /// Whether a `TraceState` can be filled directly (see `fill_trace_state`).
    fill_trace_state: bool,
}

/// The opentelemetry-python objects, imported once.
fn otel(py: Python<'_>) -> PyResult<&'static Otel> {
    static OTEL: PyOnceLock<Otel> = PyOnceLock::new();
    OTEL.get_or_try_init(py, || {
        let context = py.import("opentelemetry.context")?;
        let trace = py.import("opentelemetry.trace")?;
        let span = py.import("opentelemetry.trace.span")?;
        let propagation = py.import("opentelemetry.trace.propagation")?;
        let baggage = py.import("opentelemetry.baggage")?;
        let textmap = py.import("opentelemetry.propagators.textmap")?;
        Ok::<_, PyErr>(Otel {
            context_cls: context.getattr("Context")?.cast_into::<PyType>()?.unbind(),
            get_current: context.getattr("get_current")?.unbind(),
            span_context_cls: trace.getattr("SpanContext")?.unbind(),
            trace_flags_cls: trace.getattr("TraceFlags")?.unbind(),
            trace_state_cls: span.getattr("TraceState")?.unbind(),
            default_trace_state: span.getattr("DEFAULT_TRACE_STATE")?.unbind(),
            non_recording_span_cls: trace.getattr("NonRecordingSpan")?.unbind(),
            span_key: propagation.getattr("_SPAN_KEY")?.unbind(),
            baggage_key: baggage.getattr("_BAGGAGE_KEY")?.unbind(),
            default_getter: textmap.getattr("default_getter")?.unbind(),
            default_setter: textmap.getattr("default_setter")?.unbind(),
            fill_trace_state: false,
        })
        .map(|mut o| {
            o.fill_trace_state = can_fill_trace_state(py, &o);
            o
        })
    })
}

/// Whether this opentelemetry-python keeps a `TraceState`'s entries in an
/// insertion-ordered `dict` named `_dict`, as every release since 1.0 does:
/// checked once, by comparing a filled object with one built the public way.
fn can_fill_trace_state(py: Python<'_>, o: &Otel) -> bool {
    let check =
        || -> PyResult<bool> {
            let entries = vec![("a", "1"), ("b@c", "2")];
            let public = o.trace_state_cls.bind(py).call1((entries.clone(),))?;
            let filled = fill_trace_state(py, o, &entries)?;
            let same_items = public.call_method0("items")?.str()?.to_cow()?.into_owned()
                == filled.call_method0("items")?.str()?.to_cow()?.into_owned();
            Ok(same_items
                && public.getattr("_dict")?.cast::<PyDict>().is_ok()
                && public.eq(&filled)?)
        };
    check().unwrap_or(false)
}

/// A `TraceState` holding `entries` without opentelemetry-python's
/// per-entry regular-expression validation: the core has already validated
/// them (W3C Level 2 grammar, limits).
fn fill_trace_state<'py>(
    py: Python<'py>,
    o: &Otel,
    entries: &[(&str, &str)],
) -> PyResult<Bound<'py, PyAny>> {
    let cls = o.trace_state_cls.bind(py);
    let obj = cls.call_method1(intern!(py, "__new__"), (cls,))?;
    let dict = PyDict::new(py);
    for (k, v) in entries {
        dict.set_item(*k, *v)?;
    }
    obj.setattr(intern!(py, "_dict"), dict)?;
    Ok(obj)
}

// opentelemetry-python `TraceState` objects already built, by the core's
// header form (the cache policy: tracewire_bridge::cache, one per thread, so
// no lock). Tracestate values repeat from message to message, while
// opentelemetry-python validates each entry with regular expressions when
// it builds one; its `TraceState` is immutable, so one object can be shared.
thread_local! {
    static TRACE_STATES: RefCell<Recent<Py<PyAny>>> = const { RefCell::new(Recent::new()) };
}

/// The opentelemetry-python `TraceState` for a non-empty core tracestate.
fn otel_trace_state<'py>(
    py: Python<'py>,
    o: &Otel,
    ts: &TraceState,
) -> PyResult<Bound<'py, PyAny>> {
    let header = ts.to_header();
    // Only a clone of the object leaves the cache: nothing in it is borrowed
    // across a call into Python, which could run code on this thread.
    let cached = TRACE_STATES.with(|c| {
        c.borrow_mut()
            .get(header.as_bytes())
            .map(|obj| obj.clone_ref(py))
    });
    if let Some(obj) = cached {
        return Ok(obj.into_bound(py));
    }
    let entries: Vec<(&str, &str)> = ts.iter().collect();
    let obj = if o.fill_trace_state {
        fill_trace_state(py, o, &entries)?
    } else {
        o.trace_state_cls.bind(py).call1((entries,))?
    };
    TRACE_STATES.with(|c| c.borrow_mut().put(header.as_bytes(), obj.clone().unbind()));
    Ok(obj)
}

/// The core tracestate for an opentelemetry-python `TraceState`.
fn core_trace_state(py: Python<'_>, o: &Otel, ts: &Bound<'_, PyAny>) -> PyResult<TraceState> {
    let entries = otel_trace_state_entries(py, o, ts)?;
    if entries.is_empty() {
        return Ok(TraceState::new());
    }
    Ok(
        TraceState::from_entries(entries.iter().map(|(k, v)| (k.as_str(), v.as_str())))
            .unwrap_or_else(|_| {
                // Some entry is invalid by the core's rules: keep the others,
                // as a receiver would. Insertion puts a key in front, so insert
                // the last one first.
                let mut state = TraceState::new();
                for (k, v) in entries.iter().rev() {
                    let _ = state.insert(k, v);
                }
                state
            }),
    )
}

/// The entries of an opentelemetry-python `TraceState`, in order: read from
/// its `dict` directly when [`can_fill_trace_state`] found the layout, else
/// through `items()`.
fn otel_trace_state_entries(
    py: Python<'_>,
    o: &Otel,
    ts: &Bound<'_, PyAny>,
) -> PyResult<Vec<(String, String)>> {
    if o.fill_trace_state
        && let Ok(dict) = ts.getattr(intern!(py, "_dict"))?.cast_into::<PyDict>()
    {
        let mut out = Vec::with_capacity(dict.len());
        for (k, v) in dict.iter() {
            out.push((k.extract()?, v.extract()?));
        }
        return Ok(out);
    }
    ts.call_method0(intern!(py, "items"))?
        .try_iter()?
        .map(|i| i.and_then(|i| i.extract()))
        .collect()
}

/// opentelemetry-python's `TraceFlags(byte)`, built once per value (it is an
/// immutable `int`).
fn trace_flags<'py>(py: Python<'py>, o: &Otel, byte: u8) -> PyResult<Bound<'py, PyAny>> {
    static FLAGS: PyOnceLock<Vec<Py<PyAny>>> = PyOnceLock::new();
    let all = FLAGS.get_or_try_init(py, || {
        (0..=u8::MAX)
            .map(|b| o.trace_flags_cls.bind(py).call1((b,)).map(Bound::unbind))
            .collect::<PyResult<Vec<_>>>()
    })?;
    Ok(all[usize::from(byte)].bind(py).clone())
}

/// `parent` (or an empty context) with `tc`'s span context as a
/// non-recording span and its baggage merged over the parent's.
pub(crate) fn core_to_otel<'py>(
    py: Python<'py>,
    tc: &TraceContext,
    parent: Option<&Bound<'py, PyAny>>,
) -> PyResult<Bound<'py, PyAny>> {
    let o = otel(py)?;
    let parent = parent.filter(|p| !p.is_none());
    if tc.is_empty()
        && let Some(p) = parent
    {
        return Ok(p.clone());
    }
    let values = match parent {
        Some(p) => p.cast::<PyDict>()?.copy()?,
        None => PyDict::new(py),
    };
    if let Some(tp) = tc.traceparent {
        let trace_state = if tc.tracestate.is_empty() {
            py.None().into_bound(py)
        } else {
            otel_trace_state(py, o, &tc.tracestate)?
        };
        let flags = trace_flags(py, o, tp.flags.0)?;
        let sc = o.span_context_cls.bind(py).call1((
            u128::from_be_bytes(tp.trace_id.0),
            u64::from_be_bytes(tp.span_id.0),
            tc.remote,
            flags,
            trace_state,
        ))?;
        let span = o.non_recording_span_cls.bind(py).call1((sc,))?;
        values.set_item(o.span_key.bind(py), span)?;
    }
    if !tc.baggage.is_empty() {
        let key = o.baggage_key.bind(py);
        let bag = match values.get_item(key)? {
            Some(existing) => match existing.cast::<PyDict>() {
                Ok(d) => d.copy()?,
                Err(_) => PyDict::new(py),
            },
            None => PyDict::new(py),
        };
        // opentelemetry-python keeps a plain value per key; it has no
        // baggage properties, so those stay behind.
        for m in tc.baggage.iter() {
            bag.set_item(&m.key, &m.value)?;
        }
        values.set_item(key, bag)?;
    }
    o.context_cls.bind(py).call1((values,))
}

/// The fields of a valid opentelemetry-python `SpanContext`.
struct SpanFields<'py> {
    trace_id: Bound<'py, PyAny>,
    span_id: Bound<'py, PyAny>,
    is_remote: Bound<'py, PyAny>,
    flags: Bound<'py, PyAny>,
    trace_state: Bound<'py, PyAny>,
}

/// The span context of the span an OpenTelemetry context holds, if it holds
/// one and it is valid.
fn span_context<'py>(
    py: Python<'py>,
    o: &Otel,
    cx: &Bound<'py, PyDict>,
) -> PyResult<Option<SpanFields<'py>>> {
    let Some(span) = cx.get_item(o.span_key.bind(py))? else {
        return Ok(None);
    };
    if span.is_none() {
        return Ok(None);
    }
    let sc = span.call_method0(intern!(py, "get_span_context"))?;
    // `SpanContext` is a `tuple` of (trace_id, span_id, is_remote,
    // trace_flags, trace_state, is_valid) by its public type; reading the
    // items skips six Python property calls. Anything else is read through
    // the attributes.
    let (fields, is_valid) = match sc.cast::<PyTuple>() {
        Ok(t) if t.len() == 6 => (
            SpanFields {
                trace_id: t.get_item(0)?,
                span_id: t.get_item(1)?,
                is_remote: t.get_item(2)?,
                flags: t.get_item(3)?,
                trace_state: t.get_item(4)?,
            },
            t.get_item(5)?,
        ),
        _ => (
            SpanFields {
                trace_id: sc.getattr(intern!(py, "trace_id"))?,
                span_id: sc.getattr(intern!(py, "span_id"))?,
                is_remote: sc.getattr(intern!(py, "is_remote"))?,
                flags: sc.getattr(intern!(py, "trace_flags"))?,
                trace_state: sc.getattr(intern!(py, "trace_state"))?,
            },
            sc.getattr(intern!(py, "is_valid"))?,
        ),
    };
    Ok(if is_valid.is_truthy()? {
        Some(fields)
    } else {
        None
    })
}

/// An OpenTelemetry context (`None`: the current one) as a `dict`.
fn context_dict<'py>(
    py: Python<'py>,
    o: &Otel,
    cx: Option<&Bound<'py, PyAny>>,
) -> PyResult<Bound<'py, PyDict>> {
    match cx.filter(|c| !c.is_none()) {
        Some(c) => Ok(c.cast::<PyDict>()?.clone()),
        None => Ok(o.get_current.bind(py).call0()?.cast_into::<PyDict>()?),
    }
}

/// The trace id and span id of the valid span an OpenTelemetry context
/// (`None`: the current one) holds, if any.
pub(crate) fn span_ids(
    py: Python<'_>,
    cx: Option<&Bound<'_, PyAny>>,
) -> PyResult<Option<(u128, u64)>> {
    let o = otel(py)?;
    let cx = context_dict(py, o, cx)?;
    span_context(py, o, &cx)?
        .map(|sc| Ok((sc.trace_id.extract()?, sc.span_id.extract()?)))
        .transpose()
}

/// The span context and baggage of an OpenTelemetry context (`None`: the
/// current one), as the core's context to send on.
pub(crate) fn otel_to_core(
    py: Python<'_>,
    cx: Option<&Bound<'_, PyAny>>,
) -> PyResult<TraceContext> {
    let o = otel(py)?;
    let cx = context_dict(py, o, cx)?;
    let mut tc = TraceContext::default();
    if let Some(sc) = span_context(py, o, &cx)? {
        let trace_id: u128 = sc.trace_id.extract()?;
        let span_id: u64 = sc.span_id.extract()?;
        let flags: u8 = sc.flags.extract()?;
        tc.traceparent = Some(TraceParent {
            trace_id: TraceId(trace_id.to_be_bytes()),
            span_id: SpanId(span_id.to_be_bytes()),
            flags: TraceFlags(flags),
        });
        tc.remote = sc.is_remote.is_truthy()?;
        // The shared empty default needs no look at all.
        if !sc.trace_state.is_none() && !sc.trace_state.is(o.default_trace_state.bind(py)) {
            tc.tracestate = core_trace_state(py, o, &sc.trace_state)?;
        }
    }
    if let Some(bag) = cx.get_item(o.baggage_key.bind(py))?
        && let Ok(bag) = bag.cast::<PyDict>()
        && !bag.is_empty()
    {
        let mut baggage = Baggage::new();
        for (k, v) in bag.iter() {
            let key: String = k.str()?.to_cow()?.into_owned();
            let value: String = match v.cast::<PyString>() {
                Ok(s) => s.to_cow()?.into_owned(),
                Err(_) => v.str()?.to_cow()?.into_owned(),
            };
            // Keys that are not tokens cannot be sent; they are skipped.
            let _ = baggage.insert_member(BaggageMember::new(key, value));
        }
        tc.baggage = baggage;
    }
    Ok(tc)
}

/// Values of one field from a getter's answer (`None`, a string, or a list).
fn values_of(v: Option<Bound<'_, PyAny>>) -> PyResult<Vec<String>> {
    match v.filter(|v| !v.is_none()) {
        Some(v) => header_lines(&v),
        None => Ok(Vec::new()),
    }
}

/// `TextMapPropagator.extract` for `traceparent`, `tracestate` and `baggage`.
#[pyfunction]
#[pyo3(signature = (carrier, context = None, getter = None))]
fn propagator_extract<'py>(
    py: Python<'py>,
    carrier: &Bound<'py, PyAny>,
    context: Option<&Bound<'py, PyAny>>,
    getter: Option<&Bound<'py, PyAny>>,
) -> PyResult<Bound<'py, PyAny>> {
    guard(py, || {
        let o = otel(py)?;
        let getter = getter.filter(|g| !g.is_none() && !g.is(o.default_getter.bind(py)));
        let fetch = |name: &Bound<'py, PyString>| -> PyResult<Vec<String>> {
            match (getter, carrier.cast::<PyDict>()) {
                (None, Ok(d)) => values_of(d.get_item(name)?),
                (None, Err(_)) => values_of(
                    o.default_getter
                        .bind(py)
                        .call_method1(intern!(py, "get"), (carrier, name))
                        .map(Some)?,
                ),
                (Some(g), _) => {
                    values_of(Some(g.call_method1(intern!(py, "get"), (carrier, name))?))
                }
            }
        };
        let (tp, ts, bg) = (
            fetch(intern!(py, TRACEPARENT))?,
            fetch(intern!(py, TRACESTATE))?,
            fetch(intern!(py, BAGGAGE))?,
        );
        let (tc, _issues) = TraceContext::from_header_values(&tp, &ts, &bg);
        match context.filter(|c| !c.is_none()) {
            Some(c) => core_to_otel(py, &tc, Some(c)),
            None => {
                if tc.is_empty() {
                    o.context_cls.bind(py).call0()
                } else {
                    core_to_otel(py, &tc, None)
                }
            }
        }
    })
}

/// The interned Python string for a header name the core writes.
fn field_name<'py>(py: Python<'py>, name: &'static str) -> Bound<'py, PyString> {
    match name {
        TRACEPARENT => intern!(py, TRACEPARENT).clone(),
        TRACESTATE => intern!(py, TRACESTATE).clone(),
        BAGGAGE => intern!(py, BAGGAGE).clone(),
        other => PyString::new(py, other),
    }
}

/// `TextMapPropagator.inject` for `traceparent`, `tracestate` and `baggage`.
#[pyfunction]
#[pyo3(signature = (carrier, context = None, setter = None))]
fn propagator_inject(
    py: Python<'_>,
    carrier: &Bound<'_, PyAny>,
    context: Option<&Bound<'_, PyAny>>,
    setter: Option<&Bound<'_, PyAny>>,
) -> PyResult<()> {
    guard(py, || {
        let o = otel(py)?;
        let tc = otel_to_core(py, context)?;
        let mut sink = PairSink::default();
        handshake::inject(&tc, &mut sink);
        let setter = setter.filter(|s| !s.is_none() && !s.is(o.default_setter.bind(py)));
        match (setter, carrier.cast::<PyDict>()) {
            (None, Ok(d)) => {
                for (k, v) in &sink.0 {
                    d.set_item(field_name(py, k), v)?;
                }
            }
            (setter, _) => {
                let setter = setter.unwrap_or(o.default_setter.bind(py));
                for (k, v) in &sink.0 {
                    setter.call_method1(intern!(py, "set"), (carrier, *k, v))?;
                }
            }
        }
        Ok(())
    })
}

pub(crate) fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_function(wrap_pyfunction!(propagator_extract, m)?)?;
    m.add_function(wrap_pyfunction!(propagator_inject, m)?)?;
    Ok(())
}
