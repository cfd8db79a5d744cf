//! Python header collections as `(name, value)` pairs, both ways.
//!
//! Headers come in several shapes: a `dict` (values a string or a list of
//! lines), a `websockets` `Headers` (multi-valued), any other mapping, or a
//! list of `(name, value)` pairs. The handshake, `TraceContext.headers()` and
//! the OpenTelemetry propagator all read and write them here, so this module
//! depends on nothing else in the crate.

use pyo3::prelude::*;
use pyo3::types::{PyDict, PyList, PyString, PyTuple};
use tracewire::handshake::HeaderSink;

/// A header value given as one string or as several lines.
pub(crate) fn header_lines(value: &Bound<'_, PyAny>) -> PyResult<Vec<String>> {
    if let Ok(s) = value.cast::<PyString>() {
        return Ok(vec![s.to_cow()?.into_owned()]);
    }
    let mut out = Vec::new();
    for line in value.try_iter()? {
        out.push(line?.extract::<String>()?);
    }
    Ok(out)
}

/// Collects what the core writes as `(name, value)` pairs, replacing earlier
/// values of the same name.
#[derive(Default)]
pub(crate) struct PairSink(pub(crate) Vec<(&'static str, String)>);

impl HeaderSink for PairSink {
    fn set(&mut self, name: &'static str, value: &str) {
        self.0.retain(|(k, _)| *k != name);
        self.0.push((name, value.to_owned()));
    }
}

/// Appends `value` (a string, or an iterable of strings) under `name`.
fn push_values(
    out: &mut Vec<(String, String)>,
    name: String,
    value: &Bound<'_, PyAny>,
) -> PyResult<()> {
    for line in header_lines(value)? {
        out.push((name.clone(), line));
    }
    Ok(())
}

/// Reads any supported header collection into `(name, value)` pairs.
pub(crate) fn read_headers(headers: Option<&Bound<'_, PyAny>>) -> PyResult<Vec<(String, String)>> {
    let mut out = Vec::new();
    let Some(headers) = headers else {
        return Ok(out);
    };
    if headers.is_none() {
        return Ok(out);
    }
    if let Ok(d) = headers.cast::<PyDict>() {
        for (k, v) in d.iter() {
            push_values(&mut out, k.extract()?, &v)?;
        }
        return Ok(out);
    }
    // websockets' Headers keeps every line; `raw_items()` yields them all.
    if headers.hasattr("raw_items")? {
        for pair in headers.call_method0("raw_items")?.try_iter()? {
            out.push(pair?.extract()?);
        }
        return Ok(out);
    }
    if headers.hasattr("items")? {
        for pair in headers.call_method0("items")?.try_iter()? {
            let pair = pair?;
            let (k, v): (String, Bound<'_, PyAny>) = pair.extract()?;
            push_values(&mut out, k, &v)?;
        }
        return Ok(out);
    }
    for pair in headers.try_iter()? {
        out.push(pair?.extract()?);
    }
    Ok(out)
}

/// Writes header values into a Python carrier: a `list` gets `(name, value)`
/// tuples (earlier ones of that name removed), a `dict` gets items, any
/// other mutable mapping has the name deleted first (so multi-valued
/// collections such as `websockets` `Headers` end with one line).
pub(crate) fn write_headers(
    carrier: &Bound<'_, PyAny>,
    pairs: &[(&'static str, String)],
) -> PyResult<()> {
    if let Ok(list) = carrier.cast::<PyList>() {
        for (name, value) in pairs {
            let mut i = 0;
            while i < list.len() {
                let item = list.get_item(i)?;
                let same = item
                    .cast::<PyTuple>()
                    .ok()
                    .and_then(|t| t.get_item(0).ok())
                    .and_then(|k| k.extract::<String>().ok())
                    .is_some_and(|k| k.eq_ignore_ascii_case(name));
                if same {
                    list.del_item(i)?;
                } else {
                    i += 1;
                }
            }
            list.append((*name, value.as_str()))?;
        }
        return Ok(());
    }
    if let Ok(d) = carrier.cast::<PyDict>() {
        for (name, value) in pairs {
            d.set_item(*name, value)?;
        }
        return Ok(());
    }
    for (name, value) in pairs {
        if carrier.contains(*name)? {
            carrier.del_item(*name)?;
        }
        carrier.set_item(*name, value)?;
    }
    Ok(())
}
