#![no_main]
//! The queue carrier (`TraceContext::to_carrier` / `from_carrier`): any
//! bytes restore to a context or a typed error without panicking; a restored
//! context is valid and remote, and the whole input was the carrier (bytes
//! after it are refused); capturing it again and restoring gives the context
//! as a receiver sees it, and a second capture the same bytes (a fixed
//! point). Every fixed context survives capture and restore.
use libfuzzer_sys::fuzz_target;
use tracewire::TraceContext;
use tracewire::envelope::binary;
use tracewire_fuzz::{check_context, contexts, received};

fuzz_target!(|data: &[u8]| {
    match TraceContext::from_carrier(data) {
        Ok(ctx) => {
            check_context(&ctx);
            assert!(ctx.remote);
            let (hctx, len) = binary::decode_header(data).expect("restored once");
            assert_eq!((hctx, len), (ctx.clone(), data.len()));
            let mut longer = data.to_vec();
            longer.push(0);
            assert!(
                TraceContext::from_carrier(&longer).is_err(),
                "trailing bytes accepted"
            );
            let carrier = ctx.to_carrier();
            let back = TraceContext::from_carrier(&carrier).expect("a captured context restores");
            assert_eq!(back, received(&ctx));
            assert_eq!(back.to_carrier(), carrier, "not a fixed point");
        }
        Err(e) => {
            // Either not a binary envelope header, or bytes after it.
            if let Ok((_, len)) = binary::decode_header(data) {
                assert!(len < data.len(), "{e}");
            }
        }
    }
    for ctx in contexts() {
        let back = TraceContext::from_carrier(&ctx.to_carrier()).expect("restores");
        assert_eq!(back, received(&ctx));
    }
});
