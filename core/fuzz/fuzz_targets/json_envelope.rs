#![no_main]
//! Any frame, at the top level and at a nested path, with and without
//! stripping: extraction never panics and never loses the frame, and a
//! context injected into any object is extracted back.
use libfuzzer_sys::fuzz_target;
use tracewire::envelope::{Decoded, json::JsonEnvelope};
use tracewire::{TraceContext, TraceParent};

fuzz_target!(|frame: &[u8]| {
    let ctx = TraceContext {
        traceparent: TraceParent::parse("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01").ok(),
        ..Default::default()
    };
    for path in ["", "params._meta"] {
        for strip in [false, true] {
            let env = JsonEnvelope::at_path(path).expect("path").strip_on_extract(strip);
            match env.extract(frame) {
                Decoded::Plain(p) | Decoded::Malformed(_, p) => assert_eq!(p, frame),
                Decoded::Enveloped(c, p) => {
                    assert!(c.traceparent.is_some());
                    assert!(strip || &*p == frame);
                }
            }
            if let Ok(out) = env.inject(frame, &ctx) {
                if let Decoded::Enveloped(got, _) = env.extract(&out) {
                    assert_eq!(got.traceparent, ctx.traceparent);
                }
            }
        }
    }
});
