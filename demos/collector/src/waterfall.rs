//! Grouping spans into traces and drawing each trace as a terminal waterfall.
//!
//! A voice turn has hundreds of per-chunk `send`/`process` spans, so sibling
//! message spans with the same service and name collapse into one line
//! (`x N`), and the children of a collapsed group merge the same way. A
//! span linked to another service's span (the context of a peer it does not
//! trust as a parent) names it: `link: device send /voice x27 (trace ...)`.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::fmt::Write;

use serde_json::{Value, json};

use crate::otlp::SpanRecord;

const BAR_WIDTH: usize = 30;

/// Groups spans by trace: traces ordered by their earliest start, spans by
/// start time.
pub fn traces(spans: &[SpanRecord]) -> Vec<Vec<&SpanRecord>> {
    let mut by_trace: HashMap<&str, Vec<&SpanRecord>> = HashMap::new();
    for span in spans {
        by_trace
            .entry(span.trace_id.as_str())
            .or_default()
            .push(span);
    }
    let mut traces: Vec<Vec<&SpanRecord>> = by_trace.into_values().collect();
    for trace in &mut traces {
        trace.sort_by_key(|s| (s.start_unix_nano, s.end_unix_nano));
    }
    traces.sort_by_key(|t| (t[0].start_unix_nano, t[0].trace_id.clone()));
    traces
}

/// The output file: `{"traces": [{"trace_id", "spans": [...]}]}`.
pub fn to_json(spans: &[SpanRecord]) -> Value {
    let traces: Vec<Value> = traces(spans)
        .into_iter()
        .map(|t| {
            json!({"trace_id": t[0].trace_id,
                   "spans": t.iter().map(|s| s.to_json()).collect::<Vec<_>>()})
        })
        .collect();
    json!({ "traces": traces })
}

/// Every span by its id, for [`render`] to name the spans links point to.
pub fn by_id(spans: &[SpanRecord]) -> HashMap<&str, &SpanRecord> {
    spans.iter().map(|s| (s.span_id.as_str(), s)).collect()
}

/// One trace laid out as rows: the span tree in depth-first order, sibling
/// message spans folded into one row. `all` ([`by_id`]) names the targets of
/// links. The terminal view ([`render`]) and the HTML view draw these rows.
pub fn layout<'a>(
    trace: &[&'a SpanRecord],
    all: &'a HashMap<&'a str, &'a SpanRecord>,
) -> Layout<'a> {
    let start = trace.iter().map(|s| s.start_unix_nano).min().unwrap_or(0);
    let end = trace.iter().map(|s| s.end_unix_nano).max().unwrap_or(start);
    let ids: HashSet<&str> = trace.iter().map(|s| s.span_id.as_str()).collect();
    let mut children: HashMap<&str, Vec<&SpanRecord>> = HashMap::new();
    let mut roots = Vec::new();
    for span in trace {
        match span.parent_span_id.as_deref() {
            Some(parent) if ids.contains(parent) => children.entry(parent).or_default().push(span),
            _ => roots.push(*span),
        }
    }
    let tree = Tree { children, all };
    let mut rows = Vec::new();
    for group in collapse(&roots) {
        tree.walk(&mut rows, group, 0);
    }
    Layout {
        trace_id: trace.first().map_or("", |s| s.trace_id.as_str()),
        span_count: trace.len(),
        start,
        total: end.saturating_sub(start).max(1),
        services: trace
            .iter()
            .map(|s| (s.service.as_str(), s.language.as_str()))
            .collect(),
        rows,
    }
}

/// A trace as [`layout`] arranges it.
pub struct Layout<'a> {
    /// The trace id.
    pub trace_id: &'a str,
    /// How many spans the trace holds.
    pub span_count: usize,
    /// The earliest start, in ns since the Unix epoch.
    pub start: u64,
    /// From the earliest start to the latest end, in ns (at least 1).
    pub total: u64,
    /// Each service of the trace and its language.
    pub services: BTreeMap<&'a str, &'a str>,
    /// The rows, top down.
    pub rows: Vec<Row<'a>>,
}

/// One row: a span, or sibling message spans folded into one.
pub struct Row<'a> {
    /// Nesting depth in the span tree (0 for a root).
    pub depth: usize,
    /// The span, or the folded spans in order of start (never empty).
    pub spans: Vec<&'a SpanRecord>,
    /// Spans of other services the row's spans link to, one entry per
    /// target service, name and trace.
    pub links: Vec<LinkTarget<'a>>,
}

impl Row<'_> {
    /// The first span's start, in ns since the Unix epoch.
    pub fn begin(&self) -> u64 {
        self.spans
            .iter()
            .map(|s| s.start_unix_nano)
            .min()
            .unwrap_or(0)
    }

    /// The last span's end, in ns since the Unix epoch.
    pub fn end(&self) -> u64 {
        let begin = self.begin();
        self.spans
            .iter()
            .map(|s| s.end_unix_nano)
            .max()
            .unwrap_or(begin)
            .max(begin)
    }

    /// A root whose parent span was not received.
    pub fn parent_missing(&self) -> bool {
        self.depth == 0 && self.spans[0].parent_span_id.is_some()
    }

    /// Whether any of the row's spans ended with status error.
    pub fn error(&self) -> bool {
        self.spans.iter().any(|s| s.status.0 == "error")
    }

    /// The stream figures of the row's first span.
    pub fn stream(&self) -> Option<Stream> {
        Stream::of(self.spans[0])
    }
}

/// The spans of one service, name and trace that a row links to.
pub struct LinkTarget<'a> {
    /// The target spans, in order of the row's links.
    pub spans: Vec<&'a SpanRecord>,
}

impl LinkTarget<'_> {
    /// The targets' service.
    pub fn service(&self) -> &str {
        &self.spans[0].service
    }

    /// The targets' name.
    pub fn name(&self) -> &str {
        &self.spans[0].name
    }

    /// The targets' trace id.
    pub fn trace_id(&self) -> &str {
        &self.spans[0].trace_id
    }
}

/// What a stream span records of its stream (docs/PROTOCOL.md section 9):
/// the chunk count and the times from the span's start to the first and
/// last chunk, in seconds.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Stream {
    /// `tracewire.stream.chunk_count`.
    pub chunks: i64,
    /// `tracewire.stream.time_to_first_chunk`, or the GenAI
    /// `gen_ai.response.time_to_first_chunk`.
    pub first_s: Option<f64>,
    /// `tracewire.stream.time_to_last_chunk`.
    pub last_s: Option<f64>,
}

impl Stream {
    /// The span's stream figures; `None` for a span that is no stream span.
    pub fn of(span: &SpanRecord) -> Option<Self> {
        let attrs = &span.attributes;
        let seconds = |key: &str| attrs.get(key).and_then(Value::as_f64);
        Some(Self {
            chunks: attrs
                .get("tracewire.stream.chunk_count")
                .and_then(Value::as_i64)?,
            first_s: seconds("tracewire.stream.time_to_first_chunk")
                .or_else(|| seconds("gen_ai.response.time_to_first_chunk")),
            last_s: seconds("tracewire.stream.time_to_last_chunk"),
        })
    }
}

/// One trace drawn as a header line and a tree of (collapsed) span lines;
/// `all` ([`by_id`]) names the targets of links.
pub fn render(trace: &[&SpanRecord], all: &HashMap<&str, &SpanRecord>) -> String {
    let layout = layout(trace, all);
    let mut out = String::new();
    let _ = writeln!(
        out,
        "trace {}  {} spans  {:.1} ms  {}",
        layout.trace_id,
        layout.span_count,
        ms(layout.total),
        layout
            .services
            .iter()
            .map(|(s, l)| format!("{s} ({l})"))
            .collect::<Vec<_>>()
            .join(", ")
    );
    for row in &layout.rows {
        let first = row.spans[0];
        let offset = row.begin().saturating_sub(layout.start);
        let extent = row.end() - row.begin();
        let mut name = format!("{}{}", "  ".repeat(row.depth), first.name);
        if row.spans.len() > 1 {
            let _ = write!(name, " x{}", row.spans.len());
        }
        if row.parent_missing() {
            name.push_str(" (parent missing)");
        }
        if row.error() {
            name.push_str(" [error]");
        }
        let _ = writeln!(
            out,
            "{:>9.1} {:>9.1}  {}  {:<18} {}{}{}",
            ms(offset),
            ms(extent),
            bar(offset, extent, layout.total),
            format!("{} ({})", first.service, first.language),
            name,
            row.stream().map_or_else(String::new, stream_summary),
            link_summary(&row.links)
        );
    }
    out
}

struct Tree<'a> {
    children: HashMap<&'a str, Vec<&'a SpanRecord>>,
    all: &'a HashMap<&'a str, &'a SpanRecord>,
}

impl<'a> Tree<'a> {
    fn walk(&self, rows: &mut Vec<Row<'a>>, group: Vec<&'a SpanRecord>, depth: usize) {
        let mut kids: Vec<&SpanRecord> = group
            .iter()
            .filter_map(|s| self.children.get(s.span_id.as_str()))
            .flatten()
            .copied()
            .collect();
        kids.sort_by_key(|s| s.start_unix_nano);
        let links = self.link_targets(&group);
        rows.push(Row {
            depth,
            spans: group,
            links,
        });
        for child in collapse(&kids) {
            self.walk(rows, child, depth + 1);
        }
    }

    /// The group's links to spans of other services (a span's links to its
    /// own service, such as a message's to its connection, say nothing new),
    /// grouped by the target's service, name and trace.
    fn link_targets(&self, group: &[&'a SpanRecord]) -> Vec<LinkTarget<'a>> {
        let mut targets: BTreeMap<(&str, &str, &str), Vec<&SpanRecord>> = BTreeMap::new();
        for span in group {
            for link in &span.links {
                let target = link["span_id"].as_str().and_then(|id| self.all.get(id));
                if let Some(t) = target.filter(|t| t.service != span.service) {
                    targets
                        .entry((t.service.as_str(), t.name.as_str(), t.trace_id.as_str()))
                        .or_default()
                        .push(t);
                }
            }
        }
        targets
            .into_values()
            .map(|spans| LinkTarget { spans })
            .collect()
    }
}

/// `  link: {service} {name} xN (trace {8 hex})` per link target.
fn link_summary(targets: &[LinkTarget]) -> String {
    let mut s = String::new();
    for target in targets {
        let _ = write!(s, "  link: {} {}", target.service(), target.name());
        if target.spans.len() > 1 {
            let _ = write!(s, " x{}", target.spans.len());
        }
        let trace = target.trace_id();
        let _ = write!(s, " (trace {})", trace.get(..8).unwrap_or(trace));
    }
    s
}

fn bar(offset: u64, extent: u64, total: u64) -> String {
    let scale = |ns: u64| (ns as u128 * BAR_WIDTH as u128 / total as u128) as usize;
    let from = scale(offset).min(BAR_WIDTH - 1);
    let to = scale(offset + extent).clamp(from + 1, BAR_WIDTH);
    format!(
        "|{}{}{}|",
        " ".repeat(from),
        "=".repeat(to - from),
        " ".repeat(BAR_WIDTH - to)
    )
}

/// Message spans (producer, consumer) grouped by service and name among
/// their siblings, in order of each group's first span: interleaved sends,
/// such as text to tts and audio to the device, stay two lines instead of one
/// per message. Other spans (a turn, a call) keep a line each.
fn collapse<'a>(spans: &[&'a SpanRecord]) -> Vec<Vec<&'a SpanRecord>> {
    let mut groups: Vec<Vec<&SpanRecord>> = Vec::new();
    let mut index: HashMap<(&str, &str), usize> = HashMap::new();
    for span in spans {
        let key = match span.kind {
            "producer" | "consumer" => (span.service.as_str(), span.name.as_str()),
            _ => {
                groups.push(vec![span]);
                continue;
            }
        };
        match index.get(&key) {
            Some(&i) => groups[i].push(span),
            None => {
                index.insert(key, groups.len());
                groups.push(vec![span]);
            }
        }
    }
    groups
}

/// `  first=..ms last=..ms chunks=N` for a stream span.
fn stream_summary(stream: Stream) -> String {
    let mut s = String::from("  ");
    if let Some(first) = stream.first_s {
        let _ = write!(s, "first={:.1}ms ", first * 1e3);
    }
    if let Some(last) = stream.last_s {
        let _ = write!(s, "last={:.1}ms ", last * 1e3);
    }
    let _ = write!(s, "chunks={}", stream.chunks);
    s
}

fn ms(nanos: u64) -> f64 {
    nanos as f64 / 1e6
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::Map;

    fn span(
        id: u8,
        parent: Option<u8>,
        service: &str,
        name: &str,
        start: u64,
        end: u64,
    ) -> SpanRecord {
        SpanRecord {
            trace_id: "t".repeat(32),
            span_id: format!("{id:016x}"),
            parent_span_id: parent.map(|p| format!("{p:016x}")),
            name: name.into(),
            // Message spans are named by their operation, as tracewire names them.
            kind: match name.split(' ').next() {
                Some("send") => "producer",
                Some("process") => "consumer",
                _ => "internal",
            },
            service: service.into(),
            language: "rust".into(),
            start_unix_nano: start,
            end_unix_nano: end,
            status: ("unset", String::new()),
            attributes: Map::new(),
            events: vec![],
            links: vec![],
        }
    }

    #[test]
    fn siblings_collapse_and_their_children_merge() {
        let mut spans = vec![span(1, None, "device", "turn", 0, 100_000_000)];
        for i in 0..5u8 {
            let start = 1_000_000 * u64::from(i) + 1;
            spans.push(span(
                10 + i,
                Some(1),
                "device",
                "send /voice",
                start,
                start + 10,
            ));
            spans.push(span(
                20 + i,
                Some(10 + i),
                "gateway",
                "process /voice",
                start + 5,
                start + 50,
            ));
        }
        let mut streamed = span(3, Some(1), "device", "answer audio", 50_000_000, 90_000_000);
        streamed
            .attributes
            .insert("tracewire.stream.chunk_count".into(), json!(36));
        streamed
            .attributes
            .insert("tracewire.stream.time_to_first_chunk".into(), json!(0.0123));
        spans.push(streamed);
        spans.push(span(4, Some(99), "llm", "orphan", 1, 2));
        // Two calls with the same name stay two lines.
        spans.push(span(5, Some(1), "gateway", "chat", 95_000_000, 96_000_000));
        spans.push(span(6, Some(1), "gateway", "chat", 97_000_000, 98_000_000));
        for i in 0..4u8 {
            let name = if i % 2 == 0 {
                "send /tts"
            } else {
                "send /voice"
            };
            spans.push(span(
                40 + i,
                Some(3),
                "gateway",
                name,
                60_000_000 + u64::from(i),
                60_000_010,
            ));
        }

        let all = traces(&spans);
        assert_eq!(all.len(), 1);
        let text = render(&all[0], &by_id(&spans));
        let lines: Vec<&str> = text.lines().collect();
        assert!(lines[0].contains("19 spans"), "{text}");
        assert!(
            lines[0].contains("device (rust), gateway (rust), llm (rust)"),
            "{text}"
        );
        assert!(text.contains("  send /voice x5"), "{text}");
        assert!(text.contains("    process /voice x5"), "{text}");
        assert!(
            text.contains("answer audio  first=12.3ms chunks=36"),
            "{text}"
        );
        assert!(text.contains("orphan (parent missing)"), "{text}");
        assert!(text.contains("      send /tts x2"), "{text}");
        assert!(text.contains("      send /voice x2"), "{text}");
        assert_eq!(
            lines.iter().filter(|l| l.ends_with(" chat")).count(),
            2,
            "{text}"
        );
        assert_eq!(lines.len(), 10, "{text}");
        assert!(lines.iter().all(|l| l.len() <= 120), "{text}");
    }

    #[test]
    fn links_to_other_services_are_named() {
        let mut connect = span(1, None, "device", "connect /voice", 0, 100);
        connect.trace_id = "d".repeat(32);
        let mut spans = vec![connect, span(2, None, "gateway", "accept /voice", 10, 90)];
        spans[1].links =
            vec![json!({"trace_id": "d".repeat(32), "span_id": format!("{:016x}", 1)})];
        for i in 0..3u8 {
            let mut send = span(10 + i, Some(1), "device", "send /voice", 20, 30);
            send.trace_id = "d".repeat(32);
            let mut process = span(20 + i, Some(2), "gateway", "process /voice", 21, 31);
            process.links = vec![
                // The same service's connection span is not named.
                json!({"span_id": format!("{:016x}", 2)}),
                json!({"span_id": format!("{:016x}", 10 + i)}),
            ];
            spans.extend([send, process]);
        }
        let all = traces(&spans);
        let gateway = all.iter().find(|t| t[0].service == "gateway").unwrap();
        let text = render(gateway, &by_id(&spans));
        assert!(
            text.contains("accept /voice  link: device connect /voice (trace dddddddd)"),
            "{text}"
        );
        assert!(
            text.contains("process /voice x3  link: device send /voice x3 (trace dddddddd)"),
            "{text}"
        );
    }

    #[test]
    fn output_file_orders_traces_and_spans_by_start() {
        let mut a = span(1, None, "x", "late", 50, 60);
        a.trace_id = "a".repeat(32);
        let mut b = span(2, None, "x", "early", 10, 20);
        b.trace_id = "b".repeat(32);
        let mut c = span(3, Some(2), "x", "child", 15, 16);
        c.trace_id = "b".repeat(32);
        let json = to_json(&[a, c, b]);
        let traces = json["traces"].as_array().unwrap();
        assert_eq!(traces[0]["trace_id"], "b".repeat(32));
        assert_eq!(traces[0]["spans"][0]["name"], "early");
        assert_eq!(
            traces[0]["spans"][1]["parent_span_id"],
            format!("{:016x}", 2)
        );
        assert_eq!(traces[1]["spans"][0]["parent_span_id"], Value::Null);
    }
}
