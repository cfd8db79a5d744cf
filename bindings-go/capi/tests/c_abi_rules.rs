//! The core's rules through the C ABI, as a C caller would use them: URL
//! targets, choosing a parent, the message codec, and contexts coming back as
//! the bridge's records.

mod common;

use common::*;
use std::ptr;
use tracewire_capi::*;

#[test]
fn targets_come_back_as_the_bridges_target_record() {
    let read = |b: &TwBytes| {
        let mut r = tracewire_bridge::wire::Reader::new(bytes_of(b));
        let out = (
            r.str().unwrap().to_owned(),
            r.i32().unwrap(),
            r.str().unwrap().to_owned(),
        );
        assert!(r.is_empty());
        out
    };
    let mut out = TwBytes::default();
    let url = "wss://Example.com/a%20b?x=1";
    // SAFETY: valid inputs and outputs.
    ok(unsafe { tw_target_from_url(url.as_ptr(), url.len(), &mut out) });
    assert_eq!(read(&out), ("example.com".into(), 443, "/a%20b".into()));
    // SAFETY: freed once, then the zeroed struct again.
    unsafe {
        tw_bytes_free(&mut out);
        tw_bytes_free(&mut out);
    }
    let bad = "http://example.com/";
    // SAFETY: as above.
    let err = take(unsafe { tw_target_from_url(bad.as_ptr(), bad.len(), &mut out) });
    assert_eq!(err.map(|e| e.0), Some(9), "invalid_url");
    assert!(out.ptr.is_null());
    let (host, target) = ("example.com:99999", "/chat");
    // SAFETY: as above; an unreadable Host is left out, never an error.
    ok(unsafe {
        tw_target_from_request(
            TW_SCHEME_UNKNOWN,
            host.as_ptr(),
            host.len(),
            target.as_ptr(),
            target.len(),
            &mut out,
        )
    });
    assert_eq!(read(&out), (String::new(), -1, "/chat".into()));
    // SAFETY: freed once.
    unsafe { tw_bytes_free(&mut out) };
    // SAFETY: an unknown scheme code is an error, not a crash.
    let err = take(unsafe { tw_target_from_request(7, ptr::null(), 0, ptr::null(), 0, &mut out) });
    assert_eq!(err.map(|e| e.0), Some(8));
}

#[test]
fn choose_packs_the_cores_applied() {
    let mut out = 0u32;
    let parents = [TW_PARENT_REMOTE, TW_PARENT_CONNECTION];
    let links = [TW_LINK_CONNECTION];
    // A message with baggage only, on a socket with a connection span.
    let bits = TW_AVAILABLE_REMOTE_HAS_BAGGAGE | TW_AVAILABLE_CONNECTION_HAS_SPAN;
    // SAFETY: valid arrays and output.
    ok(unsafe { tw_choose(parents.as_ptr(), 2, links.as_ptr(), 1, bits, &mut out) });
    assert_eq!(out & 0xff, TW_APPLIED_PARENT_CONNECTION);
    assert_eq!(out >> 8 & 0xff, TW_APPLIED_BAGGAGE_CONNECTION);
    assert_eq!(
        out & TW_APPLIED_LINK_CONNECTION,
        0,
        "the parent is not linked again"
    );
    // SAFETY: nothing available at all: a new trace without baggage.
    ok(unsafe { tw_choose(parents.as_ptr(), 2, ptr::null(), 0, 0, &mut out) });
    assert_eq!(
        out,
        TW_APPLIED_PARENT_NEW_TRACE | TW_APPLIED_BAGGAGE_NONE << 8
    );
    for (p, n, bits) in [([9u32; 1], 1, 0), ([0; 1], 1, 1 << 6)] {
        // SAFETY: unknown codes and bits are errors.
        let err = take(unsafe { tw_choose(p.as_ptr(), n, ptr::null(), 0, bits, &mut out) });
        assert_eq!(err.map(|e| e.0), Some(8));
    }
    // SAFETY: a count with a NULL pointer is an error.
    let err = take(unsafe { tw_choose(ptr::null(), 2, ptr::null(), 0, 0, &mut out) });
    assert_eq!(err.map(|e| e.0), Some(8));
}

#[test]
fn the_codec_envelopes_and_records_a_malformed_frame() {
    let mut codec: *mut TwCodec = ptr::null_mut();
    // SAFETY: valid inputs and output.
    ok(unsafe { tw_codec_new(TW_ENVELOPE_JSON, ptr::null(), 0, false, &mut codec) });
    let sp = span();
    let payload = br#"{"text":"hi"}"#;
    let mut frame = TwBytes::default();
    let mut enveloped = false;
    // SAFETY: a live handle and valid inputs.
    ok(unsafe {
        tw_codec_encode(
            codec,
            TW_MESSAGE_TEXT,
            payload.as_ptr(),
            payload.len(),
            &sp,
            ptr::null(),
            0,
            ptr::null(),
            0,
            &mut frame,
            &mut enveloped,
        )
    });
    assert!(enveloped);
    let wire = bytes_of(&frame).to_vec();
    assert!(wire.starts_with(br#"{"tracewire":{"traceparent":""#));
    // SAFETY: freed once.
    unsafe { tw_bytes_free(&mut frame) };
    // Binary was not negotiated: passed through, nothing allocated.
    // SAFETY: as above.
    ok(unsafe {
        tw_codec_encode(
            codec,
            TW_MESSAGE_BINARY,
            payload.as_ptr(),
            payload.len(),
            &sp,
            ptr::null(),
            0,
            ptr::null(),
            0,
            &mut frame,
            &mut enveloped,
        )
    });
    assert!(!enveloped && frame.ptr.is_null());

    let mut rec = TwReceived::default();
    // SAFETY: a live handle and valid inputs.
    ok(unsafe { tw_codec_decode(codec, TW_MESSAGE_TEXT, wire.as_ptr(), wire.len(), &mut rec) });
    assert_eq!(rec.outcome, TW_DECODED_ENVELOPED);
    assert_eq!(bytes_of(&rec.payload_copy), payload, "stripped by default");
    let ctx = tracewire_bridge::wire::Reader::new(bytes_of(&rec.context))
        .context()
        .unwrap();
    assert!(ctx.remote);
    assert_eq!(ctx.traceparent.unwrap().encode(), TP.as_bytes());
    // SAFETY: freed twice through the same struct.
    unsafe {
        tw_received_free(&mut rec);
        tw_received_free(&mut rec);
    }

    let bad = br#"{"tracewire":{"traceparent":"00-zz"},"x":1}"#;
    // SAFETY: as above.
    ok(unsafe { tw_codec_decode(codec, TW_MESSAGE_TEXT, bad.as_ptr(), bad.len(), &mut rec) });
    assert_eq!(rec.outcome, TW_DECODED_MALFORMED);
    assert_eq!((rec.payload_offset, rec.payload_len), (0, bad.len()));
    let mut r = tracewire_bridge::wire::Reader::new(bytes_of(&rec.event));
    assert_eq!(r.str().unwrap(), tracewire::model::keys::EXCEPTION_EVENT);
    let attrs = r.attributes().unwrap();
    assert_eq!(attrs[0].0, tracewire::model::keys::EXCEPTION_TYPE);
    assert_eq!(take(rec.error).map(|e| e.0), Some(1));
    rec.error = ptr::null_mut();
    // SAFETY: freed once; the handle freed twice through the same variable.
    unsafe {
        tw_received_free(&mut rec);
        tw_codec_free(&mut codec);
        tw_codec_free(&mut codec);
    }
    assert!(codec.is_null());
}

#[test]
fn a_bare_span_context_allocates_nothing_and_header_forms_come_from_the_core() {
    // SAFETY: valid pointers throughout.
    unsafe {
        let mut ctx = TwContext::default();
        let mut issues = TwIssues::default();
        ok(tw_extract_values(
            TP.as_ptr(),
            TP.len(),
            1,
            ptr::null(),
            0,
            ptr::null(),
            0,
            true,
            &mut ctx,
            &mut issues,
        ));
        assert!(ctx.span.valid && ctx.remote);
        assert!(ctx.record.ptr.is_null() && ctx.tracestate.ptr.is_null());
        assert_eq!(
            context_of(&ctx).traceparent.unwrap().encode(),
            TP.as_bytes()
        );
        tw_context_free(&mut ctx);
    }
    // 32 tracestate entries of 30 characters: the record holds them all,
    // the header form is shortened to 512 characters by the core.
    let ts: Vec<String> = (0..32)
        .map(|i| format!("k{i:02}={}", "v".repeat(26)))
        .collect();
    let ts = ts.join(",");
    let bag = "k=a%20b;p=1";
    // SAFETY: valid pointers throughout.
    unsafe {
        let mut ctx = TwContext::default();
        let mut issues = TwIssues::default();
        ok(tw_extract_values(
            TP.as_ptr(),
            TP.len(),
            1,
            ts.as_ptr(),
            ts.len(),
            bag.as_ptr(),
            bag.len(),
            true,
            &mut ctx,
            &mut issues,
        ));
        assert_eq!(issues.count, 0);
        assert!(!ctx.record.ptr.is_null());
        let got = context_of(&ctx);
        assert_eq!(got.tracestate.len(), 32);
        assert_eq!(got.baggage.get("k"), Some("a b"));
        assert_eq!(
            bytes_of(&ctx.tracestate),
            got.tracestate.to_header().as_bytes()
        );
        assert!(ctx.tracestate.len <= 512);
        assert_eq!(bytes_of(&ctx.baggage), b"k=a%20b;p=1");
        tw_context_free(&mut ctx);
        assert!(ctx.record.ptr.is_null() && ctx.tracestate.ptr.is_null());
        tw_context_free(&mut ctx);
    }
}

#[test]
fn the_mcp_codec_reads_and_writes_meta_without_negotiation() {
    let mut codec: *mut TwCodec = ptr::null_mut();
    // SAFETY: valid output; nothing negotiated.
    ok(unsafe { tw_codec_new_mcp(0, false, &mut codec) });
    let sp = span();
    let payload = br#"{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"x"}}"#;
    let mut frame = TwBytes::default();
    let mut enveloped = false;
    // SAFETY: a live handle and valid inputs.
    ok(unsafe {
        tw_codec_encode(
            codec,
            TW_MESSAGE_TEXT,
            payload.as_ptr(),
            payload.len(),
            &sp,
            ptr::null(),
            0,
            ptr::null(),
            0,
            &mut frame,
            &mut enveloped,
        )
    });
    assert!(enveloped);
    let wire = bytes_of(&frame).to_vec();
    let want = format!(
        r#"{{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{{"_meta":{{"traceparent":"{TP}"}},"name":"x"}}}}"#
    );
    assert_eq!(wire, want.as_bytes());
    // SAFETY: freed once.
    unsafe { tw_bytes_free(&mut frame) };
    let mut rec = TwReceived::default();
    // SAFETY: a live handle and valid inputs.
    ok(unsafe { tw_codec_decode(codec, TW_MESSAGE_TEXT, wire.as_ptr(), wire.len(), &mut rec) });
    assert_eq!(rec.outcome, TW_DECODED_ENVELOPED);
    assert_eq!(bytes_of(&rec.payload_copy), payload, "stripped by default");
    // SAFETY: freed once each.
    unsafe {
        tw_received_free(&mut rec);
        tw_codec_free(&mut codec);
    }
    // SAFETY: a NULL output is a typed error, not a crash.
    let err = take(unsafe { tw_codec_new_mcp(0, false, ptr::null_mut()) });
    assert_eq!(err.map(|e| e.0), Some(8));
}
