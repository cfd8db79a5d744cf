#![no_main]
//! The message codec, for every negotiation state (no envelope, JSON,
//! binary, both) and both frame types. Input: a selector byte (JSON
//! placement: default path, `params._meta` or MCP mode; strip; context),
//! then the payload / received frame.
//!
//! - decode: a frame type whose envelope was not negotiated (text frames in
//!   MCP mode always are) comes back plain and untouched; otherwise the
//!   result is the envelope's own (`json::extract`, `binary::decode`); a
//!   malformed envelope delivers the frame (or the tail after a binary
//!   envelope of a later version) and yields an `exception` event naming
//!   the error code;
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

fuzz_target!(|data: &[u8]| {
    let Some((&sel, frame)) = data.split_first() else {
        return;
    };
    let json = match sel % 3 {
        0 => JsonEnvelope::default(),
        1 => JsonEnvelope::at_path("params._meta").expect("path"),
        _ => JsonEnvelope::mcp(),
    }
    .strip_on_extract(sel / 3 % 2 == 1);
    let all = contexts();
    let ctx = &all[usize::from(sel) / 6 % all.len()];
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
                MessageType::Text => envelopes.json || json.is_mcp(),
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
                assert!(frame.ends_with(p));
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
                    if let (Cow::Owned(_), Some(_)) = (&wire, ctx.traceparent) {
                        match codec.decode(mt, &wire) {
                            Decoded::Enveloped(got, _) => assert_eq!(got, received(ctx)),
                            // MCP: an error response or a batch without
                            // requests carries no context.
                            Decoded::Plain(_) if json.is_mcp() => {}
                            other => panic!("a sent text frame lost its envelope: {other:?}"),
                        }
                    }
                }
            }
        }
    }
});
