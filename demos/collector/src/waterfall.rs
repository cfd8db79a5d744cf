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

/// One trace drawn as a header line and a tree of (collapsed) span lines;
/// `all` ([`by_id`]) names the targets of links.
pub fn render(trace: &[&SpanRecord], all: &HashMap<&str, &SpanRecord>) -> String {
    let start = trace.iter().map(|s| s.start_unix_nano).min().unwrap_or(0);
    let end = trace.iter().map(|s| s.end_unix_nano).max().unwrap_or(start);
    let axis = Axis {
        start,
        total: end.saturating_sub(start).max(1),
    };

    let services: BTreeMap<&str, &str> = trace
        .iter()
        .map(|s| (s.service.as_str(), s.language.as_str()))
        .collect();
    let mut out = String::new();
    let _ = writeln!(
        out,
        "trace {}  {} spans  {:.1} ms  {}",
        trace.first().map_or("", |s| s.trace_id.as_str()),
        trace.len(),
        ms(axis.total),
        services
            .iter()
            .map(|(s, l)| format!("{s} ({l})"))
            .collect::<Vec<_>>()
            .join(", ")
    );

    let ids: HashSet<&str> = trace.iter().map(|s| s.span_id.as_str()).collect();
    let mut children: HashMap<&str, Vec<&SpanRecord>> = HashMap::new();
    let mut roots = Vec::new();
    for span in trace {
        match span.parent_span_id.as_deref() {
            Some(parent) if ids.contains(parent) => children.entry(parent).or_default().push(span),
            _ => roots.push(*span),
        }
    }
    let tree = Tree {
        children,
        axis,
        all,
    };
    for group in collapse(&roots) {
        tree.draw(&mut out, &group, 0);
    }
    out
}

struct Axis {
    start: u64,
    total: u64,
}

struct Tree<'a> {
    children: HashMap<&'a str, Vec<&'a SpanRecord>>,
    axis: Axis,
    all: &'a HashMap<&'a str, &'a SpanRecord>,
}

impl<'a> Tree<'a> {
    fn draw(&self, out: &mut String, group: &[&'a SpanRecord], depth: usize) {
        let first = group[0];
        let begin = group.iter().map(|s| s.start_unix_nano).min().unwrap_or(0);
        let end = group.iter().map(|s| s.end_unix_nano).max().unwrap_or(begin);
        let offset = begin.saturating_sub(self.axis.start);
        let extent = end.saturating_sub(begin);
        let mut name = format!("{}{}", "  ".repeat(depth), first.name);
        if group.len() > 1 {
            let _ = write!(name, " x{}", group.len());
        }
        if first.parent_span_id.is_some() && depth == 0 {
            name.push_str(" (parent missing)");
        }
        if group.iter().any(|s| s.status.0 == "error") {
            name.push_str(" [error]");
        }
        let _ = writeln!(
            out,
            "{:>9.1} {:>9.1}  {}  {:<18} {}{}{}",
            ms(offset),
            ms(extent),
            self.bar(offset, extent),
            format!("{} ({})", first.service, first.language),
            name,
            stream_summary(group),
            self.link_summary(group)
        );
        let mut kids: Vec<&SpanRecord> = group
            .iter()
            .filter_map(|s| self.children.get(s.span_id.as_str()))
            .flatten()
            .copied()
            .collect();
        kids.sort_by_key(|s| s.start_unix_nano);
        for child in collapse(&kids) {
            self.draw(out, &child, depth + 1);
        }
    }

    /// `  link: {service} {name} xN (trace {8 hex})` for the group's links
    /// to spans of other services, one per distinct target name.
    fn link_summary(&self, group: &[&SpanRecord]) -> String {
        let mut targets: BTreeMap<(&str, &str, &str), usize> = BTreeMap::new();
        for span in group {
            for link in &span.links {
                let target = link["span_id"].as_str().and_then(|id| self.all.get(id));
                if let Some(t) = target.filter(|t| t.service != span.service) {
                    let trace = t.trace_id.get(..8).unwrap_or(&t.trace_id);
                    *targets
                        .entry((t.service.as_str(), t.name.as_str(), trace))
                        .or_default() += 1;
                }
            }
        }
        let mut s = String::new();
        for ((service, name, trace), n) in targets {
            let _ = write!(s, "  link: {service} {name}");
            if n > 1 {
                let _ = write!(s, " x{n}");
            }
            let _ = write!(s, " (trace {trace})");
        }
        s
    }

    fn bar(&self, offset: u64, extent: u64) -> String {
        let scale = |ns: u64| (ns as u128 * BAR_WIDTH as u128 / self.axis.total as u128) as usize;
        let from = scale(offset).min(BAR_WIDTH - 1);
        let to = scale(offset + extent).clamp(from + 1, BAR_WIDTH);
        format!(
            "|{}{}{}|",
            " ".repeat(from),
            "=".repeat(to - from),
            " ".repeat(BAR_WIDTH - to)
        )
    }
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

/// ` first=..ms last=..ms chunks=N` for a stream span (for a group, the
/// first span's figures).
fn stream_summary(group: &[&SpanRecord]) -> String {
    let attrs = &group[0].attributes;
    let seconds = |key: &str| attrs.get(key).and_then(Value::as_f64);
    let Some(count) = attrs
        .get("tracewire.stream.chunk_count")
        .and_then(Value::as_i64)
    else {
        return String::new();
    };
    let mut s = String::from("  ");
    let first = seconds("tracewire.stream.time_to_first_chunk")
        .or_else(|| seconds("gen_ai.response.time_to_first_chunk"));
    if let Some(first) = first {
        let _ = write!(s, "first={:.1}ms ", first * 1e3);
    }
    if let Some(last) = seconds("tracewire.stream.time_to_last_chunk") {
        let _ = write!(s, "last={:.1}ms ", last * 1e3);
    }
    let _ = write!(s, "chunks={count}");
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
