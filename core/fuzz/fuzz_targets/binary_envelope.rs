#![no_main]
//! Any frame: decoding never panics, never loses bytes, and the payload it
//! returns is the frame's tail; re-encoding a decoded context gives a frame
//! that decodes to the same context and payload.
use libfuzzer_sys::fuzz_target;
use tracewire::envelope::{Decoded, binary};

fuzz_target!(|frame: &[u8]| {
    match binary::decode(frame) {
        Decoded::Plain(p) | Decoded::Malformed(_, p) => assert_eq!(p, frame),
        Decoded::Enveloped(ctx, p) => {
            assert!(frame.ends_with(&p));
            let again = binary::encode(&ctx, &p);
            match binary::decode(&again) {
                Decoded::Enveloped(ctx2, p2) => {
                    assert_eq!(ctx2, ctx);
                    assert_eq!(p2, p);
                }
                other => panic!("re-encoded frame did not decode: {other:?}"),
            }
        }
    }
});
