#![no_main]
//! Input: a selector byte (placement, context to inject), then the frame.
//!
//! For every frame, at that placement (a member path, or MCP mode), with and
//! without stripping:
//! - extraction never panics and never loses the frame: plain and
//!   malformed frames come back byte for byte; an enveloped frame's context
//!   is valid and remote, and without stripping the payload is the frame;
//! - the scanner is strict RFC 8259: a frame an independent parser
//!   (serde_json) rejects is never enveloped and never injected into;
//! - stripping removes only the W3C members of the envelope object (and the
//!   envelope object left empty): the stripped payload is UTF-8 when the
//!   frame is, no longer enveloped, and, read by serde_json, the frame
//!   without those members;
//! - injecting into a frame serde_json reads as an object succeeds unless
//!   a member on the path is not an object; the result is valid JSON without
//!   duplicate member names, and extracting it gives exactly the injected
//!   context, never a stale member (a context without a traceparent leaves
//!   no envelope); inject -> strip gives back the frame without its stale
//!   members, byte for byte when the envelope object was not there.
use libfuzzer_sys::fuzz_target;
use serde_json::{Map, Value};
use tracewire::envelope::{Decoded, json::JsonEnvelope};
use tracewire_fuzz::{check_context, contexts, received};

/// Member paths, then MCP mode.
const PATHS: [&str; 4] = ["", "params._meta", "a", "traceparent"];
const PLACEMENTS: usize = PATHS.len() + 1;
const MEMBERS: [&str; 3] = ["traceparent", "tracestate", "baggage"];

fn envelope(placement: usize) -> JsonEnvelope {
    match PATHS.get(placement) {
        Some(path) => JsonEnvelope::at_path(path).expect("path"),
        None => JsonEnvelope::mcp(),
    }
}

/// The envelope path of one MCP message, `None` when it carries no context.
fn mcp_path(msg: &Map<String, Value>) -> Option<[String; 2]> {
    let first = if msg.contains_key("method") {
        "params"
    } else if msg.contains_key("result") {
        "result"
    } else {
        return None;
    };
    Some([first.to_owned(), "_meta".to_owned()])
}

/// The messages of a frame and each one's envelope path.
fn messages<'a>(
    v: &'a mut Value,
    env: &JsonEnvelope,
) -> Vec<(&'a mut Map<String, Value>, Vec<String>)> {
    let path = |m: &Map<String, Value>| {
        if env.is_mcp() {
            mcp_path(m).map(Vec::from)
        } else {
            Some(env.path().to_vec())
        }
    };
    let objects: Vec<&mut Map<String, Value>> = match v {
        Value::Object(o) => vec![o],
        Value::Array(a) if env.is_mcp() => a.iter_mut().filter_map(Value::as_object_mut).collect(),
        _ => vec![],
    };
    objects
        .into_iter()
        .filter_map(|m| path(m).map(|p| (m, p)))
        .collect()
}

/// The frame as a receiver that strips sees it: the W3C members of each
/// envelope object removed, and an envelope object they emptied with them
/// (with `injected`, every envelope object had some: an empty one goes too).
/// With `injected`, `None` when a message lacks an object on its path
/// before the envelope object (inject created it, and strip leaves it).
fn without_w3c(mut v: Value, env: &JsonEnvelope, injected: bool) -> Option<Value> {
    'messages: for (msg, path) in messages(&mut v, env) {
        let (last, parents) = path.split_last().expect("a path has a component");
        let mut parent = msg;
        for name in parents {
            match parent.get_mut(name).and_then(Value::as_object_mut) {
                Some(o) => parent = o,
                // Nothing to strip here; after an inject, an object it created.
                None if injected => return None,
                None => continue 'messages,
            }
        }
        if let Some(Value::Object(o)) = parent.get_mut(last) {
            let had = MEMBERS.iter().any(|m| o.contains_key(*m));
            for m in MEMBERS {
                o.remove(m);
            }
            if (had || injected) && o.is_empty() {
                parent.remove(last);
            }
        }
    }
    Some(v)
}

/// Whether some message's path holds a non-object (inject then refuses a
/// single message, and leaves a batch element as it is).
fn blocked(v: &Value, env: &JsonEnvelope) -> bool {
    let mut v = v.clone();
    messages(&mut v, env).into_iter().any(|(msg, path)| {
        let mut cur = msg;
        for name in &path {
            match cur.get_mut(name) {
                None => return false,
                Some(Value::Object(o)) => cur = o,
                Some(_) => return true,
            }
        }
        false
    })
}

/// Whether the envelope object of a single-component path is absent.
fn envelope_absent(v: &Value, env: &JsonEnvelope) -> bool {
    env.path().len() == 1 && v.get(&env.path()[0]).is_none()
}

/// Well-formed JSON for serde_json (UTF-8, RFC 8259 grammar).
fn well_formed(frame: &[u8]) -> bool {
    std::str::from_utf8(frame).is_ok()
        && serde_json::from_slice::<serde::de::IgnoredAny>(frame).is_ok()
}

/// Nesting near serde_json's recursion limit (128): the two parsers may
/// count the last levels differently.
fn deep(frame: &[u8]) -> bool {
    frame.iter().filter(|&&b| b == b'{' || b == b'[').count() > 100
}

fuzz_target!(|data: &[u8]| {
    let Some((&sel, frame)) = data.split_first() else {
        return;
    };
    let placement = usize::from(sel) % PLACEMENTS;
    let all = contexts();
    let ctx = &all[usize::from(sel) / PLACEMENTS % all.len()];
    // The exact oracles read frames without duplicate member names, where
    // the envelope object tracewire edits is the only one a parser sees.
    let parsed: Option<Value> = serde_json::from_slice::<NoDuplicates>(frame)
        .ok()
        .and_then(|_| serde_json::from_slice(frame).ok());
    let not_json = !deep(frame) && !well_formed(frame);
    let utf8 = std::str::from_utf8(frame).is_ok();

    for strip in [false, true] {
        let env = envelope(placement).strip_on_extract(strip);
        let decoded = env.extract(frame);
        if not_json {
            assert!(
                matches!(decoded, Decoded::Plain(_)),
                "not JSON, yet read: {decoded:?}"
            );
        }
        match decoded {
            Decoded::Plain(p) | Decoded::Malformed(_, p) => assert_eq!(p, frame),
            Decoded::Enveloped(c, p) => {
                check_context(&c);
                assert!(c.traceparent.is_some() && c.remote);
                if !strip {
                    assert_eq!(&*p, frame);
                } else {
                    assert!(
                        !utf8 || std::str::from_utf8(&p).is_ok(),
                        "stripping broke UTF-8"
                    );
                    assert!(
                        matches!(env.extract(&p), Decoded::Plain(_)),
                        "a stripped payload is still enveloped"
                    );
                    if let Some(v) = &parsed {
                        let got: Value =
                            serde_json::from_slice(&p).expect("stripping broke valid JSON");
                        let want =
                            without_w3c(v.clone(), &env, false).expect("an envelope was read");
                        assert_eq!(got, want);
                    }
                }
            }
        }

        match env.inject(frame, ctx) {
            Ok(out) => {
                assert!(!not_json, "injected into a frame that is not JSON");
                assert!(
                    !utf8 || std::str::from_utf8(&out).is_ok(),
                    "injecting broke UTF-8"
                );
                let Some(v) = &parsed else { continue };
                serde_json::from_slice::<NoDuplicates>(&out)
                    .expect("injecting broke JSON or repeated a name");
                let reader = env.clone().strip_on_extract(false);
                match reader.extract(&out) {
                    Decoded::Enveloped(c, _) => {
                        assert!(ctx.traceparent.is_some(), "a stale traceparent survived");
                        assert_eq!(c, received(ctx), "not exactly the injected context");
                    }
                    Decoded::Plain(_) => assert!(
                        ctx.traceparent.is_none() || env.is_mcp(),
                        "an injected frame did not extract"
                    ),
                    Decoded::Malformed(e, _) => panic!("an injected frame is malformed: {e}"),
                }
                let stripped = envelope(placement).extract(&out);
                if ctx.traceparent.is_some() && !env.is_mcp() {
                    if let Some(want) = without_w3c(v.clone(), &env, true) {
                        let got: Value = serde_json::from_slice(stripped.payload()).expect("JSON");
                        assert_eq!(
                            got, want,
                            "inject -> strip is not the frame without stale members"
                        );
                    }
                    if envelope_absent(v, &env) {
                        assert_eq!(
                            stripped.payload(),
                            frame,
                            "inject -> strip is not the frame"
                        );
                    }
                }
            }
            Err(e) => {
                if let (Some(v), false) = (&parsed, deep(frame)) {
                    let single = v.is_object();
                    assert!(
                        !(single || (env.is_mcp() && v.is_array())) || (single && blocked(v, &env)),
                        "inject refused a JSON message: {e}"
                    );
                }
            }
        }
    }
});

/// Deserialises any JSON value, failing on an object with a repeated member name.
struct NoDuplicates;

impl<'de> serde::Deserialize<'de> for NoDuplicates {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(NoDuplicatesVisitor)
    }
}

struct NoDuplicatesVisitor;

impl<'de> serde::de::Visitor<'de> for NoDuplicatesVisitor {
    type Value = NoDuplicates;
    fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("JSON without duplicate member names")
    }
    fn visit_bool<E>(self, _: bool) -> Result<NoDuplicates, E> {
        Ok(NoDuplicates)
    }
    fn visit_i64<E>(self, _: i64) -> Result<NoDuplicates, E> {
        Ok(NoDuplicates)
    }
    fn visit_u64<E>(self, _: u64) -> Result<NoDuplicates, E> {
        Ok(NoDuplicates)
    }
    fn visit_f64<E>(self, _: f64) -> Result<NoDuplicates, E> {
        Ok(NoDuplicates)
    }
    fn visit_str<E>(self, _: &str) -> Result<NoDuplicates, E> {
        Ok(NoDuplicates)
    }
    fn visit_unit<E>(self) -> Result<NoDuplicates, E> {
        Ok(NoDuplicates)
    }
    fn visit_seq<A: serde::de::SeqAccess<'de>>(self, mut seq: A) -> Result<NoDuplicates, A::Error> {
        while seq.next_element::<NoDuplicates>()?.is_some() {}
        Ok(NoDuplicates)
    }
    fn visit_map<A: serde::de::MapAccess<'de>>(self, mut map: A) -> Result<NoDuplicates, A::Error> {
        let mut keys = std::collections::HashSet::new();
        while let Some(k) = map.next_key::<String>()? {
            if !keys.insert(k) {
                return Err(serde::de::Error::custom("duplicate member name"));
            }
            map.next_value::<NoDuplicates>()?;
        }
        Ok(NoDuplicates)
    }
}
