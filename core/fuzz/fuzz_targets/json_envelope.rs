#![no_main]
//! Input: a selector byte (member path, context to inject), then the frame.
//!
//! For every frame, at that path, with and without stripping:
//! - extraction never panics and never loses the frame: plain and
//!   malformed frames come back byte for byte; an enveloped frame's context
//!   is valid and remote, and without stripping the payload is the frame;
//! - stripping removes only the envelope members: the stripped payload is
//!   UTF-8 when the frame is (the guarantee behind the `unsafe` in
//!   `ws.rs`), no longer enveloped, and, read by an independent JSON parser
//!   (serde_json), the frame minus `traceparent`/`tracestate`/`baggage` at
//!   the path;
//! - injecting into a frame serde_json reads as an object succeeds unless a
//!   member on the path is not an object; the result is valid JSON, UTF-8,
//!   and extracting it returns the injected context (as a receiver sees it);
//!   with the path already present, inject -> strip gives back the frame.
use libfuzzer_sys::fuzz_target;
use serde_json::Value;
use tracewire::envelope::{Decoded, json::JsonEnvelope};
use tracewire_fuzz::{check_context, contexts, received};

const PATHS: [&str; 4] = ["", "params._meta", "a", "traceparent"];
const MEMBERS: [&str; 3] = ["traceparent", "tracestate", "baggage"];

/// The object at `path` in `v`: `Some(Some(obj))`, `Some(None)` when a
/// component is missing, `None` when a component is not an object.
fn at_path<'a>(
    v: &'a Value,
    path: &[String],
) -> Option<Option<&'a serde_json::Map<String, Value>>> {
    let mut cur = v.as_object()?;
    for name in path {
        match cur.get(name) {
            None => return Some(None),
            Some(Value::Object(o)) => cur = o,
            Some(_) => return None,
        }
    }
    Some(Some(cur))
}

fn without_members(mut v: Value, path: &[String]) -> Value {
    let mut cur = Some(&mut v);
    for name in path {
        cur = cur.and_then(|c| c.get_mut(name));
    }
    if let Some(o) = cur.and_then(Value::as_object_mut) {
        for m in MEMBERS {
            o.remove(m);
        }
    }
    v
}

fuzz_target!(|data: &[u8]| {
    let Some((&sel, frame)) = data.split_first() else {
        return;
    };
    let path = PATHS[usize::from(sel & 3)];
    let all = contexts();
    let ctx = &all[usize::from(sel >> 2) % all.len()];
    // The oracle reads only frames without duplicate member names, where
    // "first occurrence" (tracewire) and "last occurrence" (serde_json) agree.
    let parsed: Option<Value> = serde_json::from_slice::<NoDuplicates>(frame)
        .ok()
        .and_then(|_| serde_json::from_slice(frame).ok());
    let utf8 = std::str::from_utf8(frame).is_ok();

    for strip in [false, true] {
        let env = JsonEnvelope::at_path(path)
            .expect("path")
            .strip_on_extract(strip);
        match env.extract(frame) {
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
                        assert_eq!(got, without_members(v.clone(), env.path()));
                    }
                }
            }
        }

        match env.inject(frame, ctx) {
            Ok(out) => {
                assert!(
                    !utf8 || std::str::from_utf8(&out).is_ok(),
                    "injecting broke UTF-8"
                );
                if ctx.is_empty() {
                    assert_eq!(out, frame);
                    continue;
                }
                let Some(v) = &parsed else { continue };
                let got: Value = serde_json::from_slice(&out).expect("injecting broke valid JSON");
                // Inject replaces only the envelope members leading the
                // object; ones further in (a forwarded frame) stay, and the
                // first `tracestate`/`baggage` is then the old one: only
                // the traceparent is checked for such frames (reported).
                let had_members = at_path(v, env.path())
                    .flatten()
                    .is_some_and(|o| MEMBERS.iter().any(|m| o.contains_key(*m)));
                let reader = env.clone().strip_on_extract(false);
                match reader.extract(&out) {
                    Decoded::Enveloped(c, _) if ctx.traceparent.is_some() => {
                        assert_eq!(c.traceparent, ctx.traceparent);
                        if !had_members {
                            assert_eq!(c, received(ctx));
                        }
                    }
                    Decoded::Plain(_) if ctx.traceparent.is_none() && !had_members => {}
                    other if had_members && ctx.traceparent.is_none() => drop(other),
                    other => panic!("an injected frame did not extract: {other:?}"),
                }
                // Only a frame with a traceparent is enveloped, and stripped.
                if let (Some(Some(_)), Some(_)) = (at_path(v, env.path()), ctx.traceparent) {
                    let obj = at_path(&got, env.path()).flatten().expect("path kept");
                    assert!(obj.contains_key("traceparent"));
                    let stripped = JsonEnvelope::at_path(path).expect("path").extract(&out);
                    let stripped: Value = serde_json::from_slice(stripped.payload()).expect("JSON");
                    assert_eq!(stripped, without_members(v.clone(), env.path()));
                    if !had_members {
                        let back = JsonEnvelope::at_path(path).expect("path").extract(&out);
                        assert_eq!(back.payload(), frame, "inject -> strip is not the frame");
                    }
                }
            }
            Err(e) => {
                if let Some(v) = &parsed {
                    assert!(
                        !v.is_object() || at_path(v, env.path()).is_none(),
                        "inject refused a JSON object: {e}"
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
