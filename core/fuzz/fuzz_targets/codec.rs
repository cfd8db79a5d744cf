#![no_main]
//! The message codec, for every negotiation state (no envelope, JSON,
//! binary, both) and both frame types. Input: a selector byte (JSON path,
//! strip, context), then the payload / received frame.
//!
//! - decode: a frame type whose envelope was not negotiated comes back
//!   plain and untouched; otherwise the result is the envelope's own
//!   (`json::extract`, `binary::decode`); a malformed envelope delivers the
//!   frame and yields an `exception` event naming the error code;
//! - encode: a frame type whose envelope was not negotiated is sent as it
//!   is; a binary frame is always prefixed and decodes back to the payload
//!   and the context; a text frame stays UTF-8 (the guarantee behind the
//!   `unsafe` in `ws.rs`), and what `encode` sends, `decode` reads back with
//!   the sender's span context; `encode_into` agrees with `encode`.
use libfuzzer_sys::fuzz_target;
use std::borrow::Cow;
use tracewire::envelope::codec::{Codec, exception_event};
use tracewire::envelope::json::JsonEnvelope;
use tracewire::envelope::{Decoded, binary};
use tracewire::handshake::Envelopes;
use tracewire::model::MessageType;
use tracewire_fuzz::{contexts, received};

const PATHS: [&str; 2] = ["", "params._meta"];

fuzz_target!(|data: &[u8]| {
    let Some((&sel, frame)) = data.split_first() else {
        return;
    };
    let json = JsonEnvelope::at_path(PATHS[usize::from(sel & 1)])
        .expect("path")
        .strip_on_extract(sel & 2 != 0);
    let all = contexts();
    let ctx = &all[usize::from(sel >> 2) % all.len()];
    let utf8 = std::str::from_utf8(frame).is_ok();
    let mut buf = vec![0xAA; 3];
    for envelopes in [
        Envelopes::NONE,
        Envelopes {
            json: true,
            binary: false,
        },
        Envelopes {
            json: false,
            binary: true,
        },
        Envelopes::ALL,
    ] {
        let codec = Codec::new(envelopes, json.clone());
        for mt in [MessageType::Text, MessageType::Binary] {
            let negotiated = match mt {
                MessageType::Text => envelopes.json,
                MessageType::Binary => envelopes.binary,
            };
            // Receiving.
            let d = codec.decode(mt, frame);
            if !negotiated {
                assert_eq!(d, Decoded::Plain(frame));
            } else if mt == MessageType::Binary {
                assert_eq!(d, binary::decode(frame));
            } else {
                assert_eq!(d, json.extract(frame));
                if utf8 {
                    assert!(
                        std::str::from_utf8(d.payload()).is_ok(),
                        "text payload not UTF-8"
                    );
                }
            }
            if let Decoded::Malformed(e, p) = &d {
                assert_eq!(*p, frame);
                let ev = exception_event(e);
                assert_eq!(ev.name, "exception");
                assert!(
                    ev.attributes
                        .iter()
                        .any(|kv| kv.value == tracewire::Value::from(e.code().as_str()))
                );
            }

            // Sending.
            let wire = codec.encode(mt, frame, ctx);
            let sent = codec.encode_into(mt, frame, ctx, &mut buf);
            match &wire {
                Cow::Borrowed(b) => {
                    assert!(!sent && buf.is_empty());
                    assert_eq!(*b, frame);
                    assert!(std::ptr::eq(b.as_ptr(), frame.as_ptr()));
                    assert!(!negotiated || mt == MessageType::Text);
                }
                Cow::Owned(o) => {
                    assert!(sent && buf == *o);
                    assert!(negotiated);
                }
            }
            if !negotiated {
                continue;
            }
            match mt {
                MessageType::Binary => {
                    let Decoded::Enveloped(got, p) = codec.decode(mt, &wire) else {
                        panic!("a sent binary frame did not decode");
                    };
                    assert_eq!(&*p, frame);
                    assert_eq!(got, received(ctx));
                }
                MessageType::Text => {
                    if utf8 {
                        assert!(std::str::from_utf8(&wire).is_ok(), "text frame not UTF-8");
                    }
                    if let (Cow::Owned(_), Some(tp)) = (&wire, ctx.traceparent) {
                        match codec.decode(mt, &wire) {
                            Decoded::Enveloped(got, _) => assert_eq!(got.traceparent, Some(tp)),
                            // The scanner validates only what it reads: a
                            // frame broken after the object's members is
                            // reported, not lost.
                            Decoded::Malformed(_, p) => assert_eq!(p, &*wire),
                            Decoded::Plain(_) => panic!("a sent text frame lost its envelope"),
                        }
                    }
                }
            }
        }
    }
});
