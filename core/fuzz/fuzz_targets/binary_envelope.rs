#![no_main]
//! Any frame: decoding never panics and never loses bytes; a frame without
//! the magic is plain, a malformed one comes back as it was, or, for a later
//! version whose length fits the frame, as the tail after it; an enveloped
//! frame's payload is its tail, borrowed (not copied), and the envelope
//! before it is what `decode_header` measures. Re-encoding the decoded
//! context before the same payload decodes to the context as a receiver
//! sees it and the same payload, and encoding again gives the same bytes
//! (a fixed point). Any bytes as the payload of an encoded frame come back
//! untouched, whatever they start with.
use libfuzzer_sys::fuzz_target;
use tracewire::envelope::{Decoded, EnvelopeError, binary};
use tracewire_fuzz::{check_context, contexts, received};

fuzz_target!(|frame: &[u8]| {
    match binary::decode(frame) {
        Decoded::Plain(p) => {
            assert_eq!(p, frame);
            assert!(!binary::is_enveloped(frame));
        }
        Decoded::Malformed(e, p) => {
            assert!(frame.ends_with(p));
            if p.len() < frame.len() {
                assert!(matches!(e, EnvelopeError::UnsupportedVersion(_)), "{e}");
            }
            assert!(binary::is_enveloped(frame));
            assert!(binary::decode_header(frame).is_err(), "{e}");
        }
        Decoded::Enveloped(ctx, p) => {
            check_context(&ctx);
            assert!(ctx.remote);
            let (hctx, len) = binary::decode_header(frame).expect("decoded once");
            assert_eq!(hctx, ctx);
            assert_eq!(&frame[len..], &*p);
            assert!(
                std::ptr::eq(p.as_ptr(), frame[len..].as_ptr()),
                "the payload was copied"
            );
            let again = binary::encode(&ctx, &p);
            let Decoded::Enveloped(ctx2, p2) = binary::decode(&again) else {
                panic!("a re-encoded frame did not decode");
            };
            assert_eq!(ctx2, received(&ctx));
            assert_eq!(p2, p);
            assert_eq!(binary::encode(&ctx2, &p2), again, "not a fixed point");
        }
    }
    for ctx in contexts() {
        let out = binary::encode(&ctx, frame);
        let Decoded::Enveloped(got, p) = binary::decode(&out) else {
            panic!("an encoded frame did not decode");
        };
        assert_eq!(&*p, frame);
        assert_eq!(got, received(&ctx));
    }
});
