//! The HTML trace view: one self-contained page with every trace of the run,
//! each its own section, so a link from one trace to another (the gateway's
//! spans to the device's) is a jump within the page, and the run is one file
//! to open. The rows are [`waterfall::layout`]'s, the terminal view's; the
//! page's script (`trace_view.html`) only draws them, from data embedded as
//! JSON, with no request outside the file.

use serde_json::{Map, Value, json};

use crate::otlp::SpanRecord;
use crate::waterfall::{self, Row};

const TEMPLATE: &str = include_str!("trace_view.html");
const DATA_SLOT: &str = "/*TRACE_DATA*/";

/// The page for every span the receiver got.
pub fn page(spans: &[SpanRecord]) -> String {
    let data = data(spans).to_string();
    // Inside <script>, only `</script` (or `<!--`) could end the data early;
    // `<` occurs in JSON only within strings, where `\u003c` means the same.
    let data = data.replace('<', "\\u003c");
    TEMPLATE.replacen(DATA_SLOT, &data, 1)
}

/// `{"traces": [{trace_id, span_count, start_unix_nano, duration_ns, services,
/// rows}],
/// "spans": {span_id: span as in the output file}}`.
fn data(spans: &[SpanRecord]) -> Value {
    let all = waterfall::by_id(spans);
    let traces: Vec<Value> = waterfall::traces(spans)
        .iter()
        .map(|trace| {
            let layout = waterfall::layout(trace, &all);
            json!({
                "trace_id": layout.trace_id,
                "span_count": layout.span_count,
                "start_unix_nano": layout.start,
                "duration_ns": layout.total,
                "services": layout.services,
                "rows": layout.rows.iter().map(|r| row(r, layout.start)).collect::<Vec<_>>(),
            })
        })
        .collect();
    let spans: Map<String, Value> = spans
        .iter()
        .map(|s| (s.span_id.clone(), s.to_json()))
        .collect();
    json!({ "traces": traces, "spans": spans })
}

fn row(row: &Row, trace_start: u64) -> Value {
    let first = row.spans[0];
    json!({
        "depth": row.depth,
        "spans": row.spans.iter().map(|s| &s.span_id).collect::<Vec<_>>(),
        "name": first.name,
        "service": first.service,
        "language": first.language,
        "offset_ns": row.begin().saturating_sub(trace_start),
        "extent_ns": row.end() - row.begin(),
        "error": row.error(),
        "parent_missing": row.parent_missing(),
        "stream": row.stream().map(|s| json!({
            "chunks": s.chunks, "first_s": s.first_s, "last_s": s.last_s,
        })),
        "links": row.links.iter().map(|t| json!({
            "service": t.service(),
            "name": t.name(),
            "trace_id": t.trace_id(),
            "spans": t.spans.iter().map(|s| &s.span_id).collect::<Vec<_>>(),
        })).collect::<Vec<_>>(),
    })
}
