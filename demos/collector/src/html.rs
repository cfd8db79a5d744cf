//! The HTML trace view: one self-contained page with every trace of the run,
//! each its own section, so a link from one trace to another (the gateway's
//! spans to the device's) is a jump within the page, and the run is one file
//! to open. The rows are [`waterfall::layout`]'s, the terminal view's; the
//! page's script (`trace_view.html`) only draws them, from data embedded as
//! JSON, with no request outside the file.

use serde_json::{Map, Value, json};

use crate::otlp::SpanRecord;
use crate::waterfall::{self, Row};

/// The most spans one page holds: a demo run has about a thousand; a load
/// run's hundreds of thousands would make a page no browser draws usefully.
pub const MAX_SPANS: usize = 20_000;

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

#[cfg(test)]
mod tests {
    use super::*;

    fn span(id: &str, parent: Option<&str>, name: &str, kind: &'static str) -> SpanRecord {
        SpanRecord {
            trace_id: "a".repeat(32),
            span_id: id.repeat(16),
            parent_span_id: parent.map(|p| p.repeat(16)),
            name: name.into(),
            kind,
            service: "device".into(),
            language: "python".into(),
            start_unix_nano: 1_000,
            end_unix_nano: 2_000,
            status: ("unset", String::new()),
            attributes: Map::new(),
            events: vec![],
            links: vec![],
        }
    }

    /// The JSON between the data script's tags, as the page's script reads it.
    fn embedded(page: &str) -> Value {
        let open = r#"<script id="trace-data" type="application/json">"#;
        let start = page.find(open).unwrap() + open.len();
        let end = start + page[start..].find("</script>").unwrap();
        serde_json::from_str(&page[start..end]).unwrap()
    }

    #[test]
    fn data_cannot_end_its_script_and_reads_back_unchanged() {
        let hostile = "</script><script>alert(1)</script><!-- </SCRIPT";
        let mut root = span("1", None, hostile, "client");
        root.attributes.insert("note".into(), json!(hostile));
        let page = page(&[root]);
        assert_eq!(page.matches("</script>").count(), 2, "{page}");
        assert!(!page.contains("<!-- "), "{page}");
        let data = embedded(&page);
        assert_eq!(data["traces"][0]["rows"][0]["name"], hostile);
        assert_eq!(data["spans"]["1".repeat(16)]["attributes"]["note"], hostile);
    }

    #[test]
    fn rows_are_the_waterfall_rows() {
        let mut spans = vec![span("1", None, "turn", "internal")];
        for id in ["2", "3", "4"] {
            spans.push(span(id, Some("1"), "send /voice", "producer"));
        }
        let mut stream = span("5", Some("1"), "answer audio", "internal");
        stream.start_unix_nano = 1_500;
        stream
            .attributes
            .insert("tracewire.stream.chunk_count".into(), json!(36));
        stream
            .attributes
            .insert("tracewire.stream.time_to_last_chunk".into(), json!(0.5));
        spans.push(stream);
        let data = embedded(&page(&spans));
        let trace = &data["traces"][0];
        assert_eq!(trace["span_count"], 5);
        assert_eq!(trace["services"], json!({"device": "python"}));
        let rows = trace["rows"].as_array().unwrap();
        let names: Vec<(&str, u64, usize)> = rows
            .iter()
            .map(|r| {
                (
                    r["name"].as_str().unwrap(),
                    r["depth"].as_u64().unwrap(),
                    r["spans"].as_array().unwrap().len(),
                )
            })
            .collect();
        assert_eq!(
            names,
            [
                ("turn", 0, 1),
                ("send /voice", 1, 3),
                ("answer audio", 1, 1)
            ]
        );
        assert_eq!(rows[2]["offset_ns"], 500);
        assert_eq!(rows[2]["extent_ns"], 500);
        assert_eq!(
            rows[2]["stream"],
            json!({"chunks": 36, "first_s": null, "last_s": 0.5})
        );
        assert_eq!(data["spans"].as_object().unwrap().len(), 5);
    }
}
