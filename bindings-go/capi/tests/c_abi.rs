//! Calls the C ABI directly, as a C caller would: NULL pointers, invalid
//! UTF-8, the panic guard, error codes, ownership and double-free protection.

mod common;

use common::*;
use std::ffi::CStr;
use std::ptr;
use tracewire_capi::*;

#[test]
fn abi_version_and_header_names_match_the_core() {
    assert_eq!(tw_abi_version(), TW_ABI_VERSION);
    let n = tw_header_names();
    // SAFETY: static NUL-terminated strings.
    let s = |p| unsafe { CStr::from_ptr(p) }.to_str().unwrap().to_owned();
    use tracewire::handshake as h;
    assert_eq!(s(n.traceparent), h::TRACEPARENT);
    assert_eq!(s(n.tracestate), h::TRACESTATE);
    assert_eq!(s(n.baggage), h::BAGGAGE);
    assert_eq!(s(n.session), h::SESSION_HEADER);
}

#[test]
fn panics_become_errors_with_code_100() {
    let (code, msg) = take(tw_testing_panic()).expect("an error");
    assert_eq!(code, tracewire::ErrorCode::Panic.as_u32());
    assert!(msg.contains("deliberate test panic"), "{msg}");
}

#[test]
fn testing_error_carries_any_code() {
    for code in [1, 2, 3, 4, 5, 6, 7, 8, 100, 12345] {
        let (got, msg) = take(tw_testing_error(code)).expect("an error");
        assert_eq!(got, code);
        assert!(!msg.is_empty());
    }
}

#[test]
fn error_getters_and_free_are_null_safe() {
    // SAFETY: NULL is allowed by every getter and free function.
    unsafe {
        assert_eq!(tw_error_code(ptr::null()), 0);
        assert!(tw_error_message(ptr::null()).is_null());
        tw_error_free(ptr::null_mut());
        tw_bytes_free(ptr::null_mut());
        tw_context_free(ptr::null_mut());
        tw_decoded_free(ptr::null_mut());
        tw_tracestate_free(ptr::null_mut());
        tw_baggage_free(ptr::null_mut());
        tw_injected_free(ptr::null_mut());
        tw_server_handshake_free(ptr::null_mut());
        tw_span_decision_free(ptr::null_mut());
        tw_close_decision_free(ptr::null_mut());
        tw_stream_snapshot_free(ptr::null_mut());
        tw_json_envelope_free(ptr::null_mut());
        tw_connection_free(ptr::null_mut());
        tw_stream_metrics_free(ptr::null_mut());
    }
}

#[test]
fn null_pointers_are_invalid_argument_not_crashes() {
    let invalid = tracewire::ErrorCode::InvalidArgument.as_u32();
    // SAFETY: every call below passes NULL where the contract says it is checked.
    unsafe {
        // NULL out-pointer.
        let e = take(tw_traceparent_parse(TP.as_ptr(), TP.len(), ptr::null_mut()));
        assert_eq!(e.map(|e| e.0), Some(invalid));
        // NULL input with a non-zero length.
        let mut sc = TwSpanContext::default();
        let e = take(tw_traceparent_parse(ptr::null(), 55, &mut sc));
        assert_eq!(e.map(|e| e.0), Some(invalid));
        // NULL input with length 0 is the empty string: an invalid traceparent.
        let e = take(tw_traceparent_parse(ptr::null(), 0, &mut sc));
        assert_eq!(e.map(|e| e.0), Some(1));
        // NULL handles.
        let mut d = TwDecoded::default();
        let e = take(tw_json_extract(
            ptr::null(),
            b"{}".as_ptr(),
            2,
            false,
            &mut d,
        ));
        assert_eq!(e.map(|e| e.0), Some(invalid));
        let mut sd = TwSpanDecision::default();
        let e = take(tw_connection_open(ptr::null(), &mut sd));
        assert_eq!(e.map(|e| e.0), Some(invalid));
        let e = take(tw_stream_metrics_record(ptr::null(), -1, 1));
        assert_eq!(e.map(|e| e.0), Some(invalid));
        let e = take(tw_traceparent_format(ptr::null(), ptr::null_mut()));
        assert_eq!(e.map(|e| e.0), Some(invalid));
        // A NULL span context is "no span context" where a context is taken.
        let mut out = TwBytes::default();
        ok(tw_carrier_encode(
            ptr::null(),
            ptr::null(),
            0,
            ptr::null(),
            0,
            &mut out,
        ));
        assert_eq!(bytes_of(&out), &[0xF5, 0x54, 0x57, 2, 0, 7, 0]);
        tw_bytes_free(&mut out);
    }
}

#[test]
fn invalid_utf8_is_a_typed_error_or_ignored_never_a_crash() {
    let bad = [0xFFu8, 0xFE, b'a'];
    // SAFETY: valid pointers and lengths throughout.
    unsafe {
        let mut sc = TwSpanContext::default();
        let e = take(tw_traceparent_parse(bad.as_ptr(), bad.len(), &mut sc));
        assert_eq!(e.map(|e| e.0), Some(1), "invalid_traceparent");
        assert!(!sc.valid, "out left zeroed on error");

        let mut env = ptr::null_mut();
        let e = take(tw_json_envelope_new(
            bad.as_ptr(),
            bad.len(),
            false,
            &mut env,
        ));
        assert_eq!(e.map(|e| e.0), Some(8), "invalid_argument");
        assert!(env.is_null());

        // Extraction never fails on bad values: the issue is reported.
        let mut ctx = TwContext::default();
        let mut issues = TwIssues::default();
        ok(tw_extract_values(
            bad.as_ptr(),
            bad.len(),
            1,
            ptr::null(),
            0,
            bad.as_ptr(),
            bad.len(),
            true,
            &mut ctx,
            &mut issues,
        ));
        assert!(context_of(&ctx).traceparent.is_none());
        assert!(ctx.tracestate.ptr.is_null() && ctx.baggage.ptr.is_null());
        assert_eq!(&issues.codes[..issues.count as usize], &[1, 3]);
        tw_context_free(&mut ctx);

        // A frame that is not UTF-8 is plain, delivered whole.
        let mut env = ptr::null_mut();
        ok(tw_json_envelope_new(ptr::null(), 0, false, &mut env));
        let mut d = TwDecoded::default();
        ok(tw_json_extract(env, bad.as_ptr(), bad.len(), false, &mut d));
        assert_eq!(d.outcome, TW_DECODED_PLAIN);
        assert_eq!((d.payload_offset, d.payload_len), (0, bad.len()));
        tw_decoded_free(&mut d);
        tw_json_envelope_free(&mut env);

        // Malformed records.
        let mut ts = TwTraceState::default();
        let e = take(tw_tracestate_parse(
            [9u8, 0, 0, 0, b'a'].as_ptr(),
            5,
            &mut ts,
        ));
        assert_eq!(e.map(|e| e.0), Some(8));
    }
}

#[test]
fn frees_are_idempotent_through_the_same_variable() {
    // SAFETY: each free receives the address of the variable it zeroes.
    unsafe {
        let mut env = ptr::null_mut();
        ok(tw_json_envelope_new(
            b"params._meta".as_ptr(),
            12,
            true,
            &mut env,
        ));
        assert!(!env.is_null());
        tw_json_envelope_free(&mut env);
        assert!(env.is_null());
        tw_json_envelope_free(&mut env);

        let mut conn = ptr::null_mut();
        ok(tw_connection_new(
            TW_MODEL_MESSAGE,
            TW_ROLE_CLIENT,
            b"s".as_ptr(),
            1,
            b"/chat".as_ptr(),
            5,
            ptr::null(),
            0,
            -1,
            &mut conn,
        ));
        tw_connection_free(&mut conn);
        tw_connection_free(&mut conn);
        assert!(conn.is_null());

        let mut m = ptr::null_mut();
        ok(tw_stream_metrics_new(TW_STREAM_GENERIC, &mut m));
        tw_stream_metrics_free(&mut m);
        tw_stream_metrics_free(&mut m);

        let sc = span();
        let mut b = TwBytes::default();
        ok(tw_binary_encode(
            &sc,
            ptr::null(),
            0,
            ptr::null(),
            0,
            b"x".as_ptr(),
            1,
            &mut b,
        ));
        assert_eq!(b.len, 33);
        tw_bytes_free(&mut b);
        assert!(b.ptr.is_null());
        tw_bytes_free(&mut b);

        let mut d = TwDecoded::default();
        let bad = [0xF5, 0x54, 0x57, 1, 0];
        ok(tw_binary_decode(bad.as_ptr(), bad.len(), false, &mut d));
        assert_eq!(d.outcome, TW_DECODED_MALFORMED);
        assert_eq!(tw_error_code(d.error), 5);
        tw_decoded_free(&mut d);
        assert!(d.error.is_null());
        tw_decoded_free(&mut d);
    }
}

#[test]
fn json_round_trip_borrows_the_payload() {
    // SAFETY: valid pointers throughout.
    unsafe {
        let mut env = ptr::null_mut();
        ok(tw_json_envelope_new(ptr::null(), 0, false, &mut env));
        let sc = span();
        let bag = "k=v";
        let mut framed = TwBytes::default();
        let frame = br#"{"text":"hi"}"#;
        ok(tw_json_inject(
            env,
            frame.as_ptr(),
            frame.len(),
            &sc,
            ptr::null(),
            0,
            bag.as_ptr(),
            bag.len(),
            &mut framed,
        ));
        let got = bytes_of(&framed).to_vec();
        assert!(got.starts_with(br#"{"tracewire":{"traceparent":""#));
        let mut d = TwDecoded::default();
        ok(tw_json_extract(env, got.as_ptr(), got.len(), true, &mut d));
        assert_eq!(d.outcome, TW_DECODED_ENVELOPED);
        assert!(d.payload_copy.ptr.is_null(), "borrowed, not copied");
        assert_eq!((d.payload_offset, d.payload_len), (0, got.len()));
        let ctx = context_of(&d.context);
        assert_eq!(ctx.traceparent.unwrap().trace_id.0, sc.trace_id);
        assert_eq!(ctx.baggage.get("k"), Some("v"));
        assert_eq!(bytes_of(&d.context.baggage), b"k=v");
        tw_decoded_free(&mut d);
        tw_bytes_free(&mut framed);

        let e = take(tw_json_inject(
            env,
            b"[1]".as_ptr(),
            3,
            &sc,
            ptr::null(),
            0,
            ptr::null(),
            0,
            &mut framed,
        ));
        assert_eq!(e.map(|e| e.0), Some(6), "not_json_object");
        assert!(framed.ptr.is_null());
        tw_json_envelope_free(&mut env);
    }
}

#[test]
fn carrier_round_trip_and_trailing_bytes() {
    // SAFETY: valid pointers throughout.
    unsafe {
        let sc = span();
        let ts = "a=1";
        let mut c = TwBytes::default();
        ok(tw_carrier_encode(
            &sc,
            ts.as_ptr(),
            ts.len(),
            ptr::null(),
            0,
            &mut c,
        ));
        let mut bytes = bytes_of(&c).to_vec();
        tw_bytes_free(&mut c);
        let mut ctx = TwContext::default();
        ok(tw_carrier_decode(
            bytes.as_ptr(),
            bytes.len(),
            true,
            &mut ctx,
        ));
        let got = context_of(&ctx);
        assert!(got.remote && got.traceparent.is_some());
        assert_eq!(got.tracestate.get("a"), Some("1"));
        assert_eq!(bytes_of(&ctx.tracestate), b"a=1");
        tw_context_free(&mut ctx);
        tw_context_free(&mut ctx);
        // Without header forms, only the record.
        ok(tw_carrier_decode(
            bytes.as_ptr(),
            bytes.len(),
            false,
            &mut ctx,
        ));
        assert!(ctx.tracestate.ptr.is_null() && !ctx.record.ptr.is_null());
        assert_eq!(context_of(&ctx), got);
        tw_context_free(&mut ctx);
        bytes.push(0);
        let e = take(tw_carrier_decode(
            bytes.as_ptr(),
            bytes.len(),
            false,
            &mut ctx,
        ));
        assert_eq!(e.map(|e| e.0), Some(4), "invalid_envelope");
    }
}

#[test]
fn handles_are_shareable_between_threads() {
    struct Shared(*mut TwJsonEnvelope);
    // SAFETY: the handle is immutable and documented as thread-safe.
    unsafe impl Send for Shared {}
    unsafe impl Sync for Shared {}
    let mut env = ptr::null_mut();
    // SAFETY: valid pointers.
    ok(unsafe { tw_json_envelope_new(ptr::null(), 0, false, &mut env) });
    let shared = Shared(env);
    std::thread::scope(|s| {
        for _ in 0..4 {
            s.spawn(|| {
                let sh = &shared;
                for _ in 0..200 {
                    let frame = br#"{"tracewire":{"traceparent":"00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"}}"#;
                    let mut d = TwDecoded::default();
                    // SAFETY: live handle, valid pointers.
                    ok(unsafe { tw_json_extract(sh.0, frame.as_ptr(), frame.len(), false, &mut d) });
                    assert_eq!(d.outcome, TW_DECODED_ENVELOPED);
                    // SAFETY: written by the call.
                    unsafe { tw_decoded_free(&mut d) };
                }
            });
        }
    });
    // SAFETY: no other users remain.
    unsafe { tw_json_envelope_free(&mut env) };
}

#[test]
fn canonical_injection_matches_the_parsing_path() {
    let sc = span();
    for (ts, bg) in [
        ("", ""),
        ("a=1,b=2", ""),
        ("", "k=v%20w"),
        ("rojo=1", "k=v;p"),
    ] {
        // SAFETY: valid pointers; outputs freed below.
        unsafe {
            let mut slow = TwInjected::default();
            ok(tw_inject_headers(
                &sc,
                ts.as_ptr(),
                ts.len(),
                bg.as_ptr(),
                bg.len(),
                false,
                &mut slow,
            ));
            let (cts, cbg) = (
                bytes_of(&slow.tracestate).to_vec(),
                bytes_of(&slow.baggage).to_vec(),
            );
            let mut fast = TwInjected::default();
            ok(tw_inject_headers(
                &sc,
                cts.as_ptr(),
                cts.len(),
                cbg.as_ptr(),
                cbg.len(),
                true,
                &mut fast,
            ));
            assert!(
                fast.tracestate.ptr.is_null() && fast.baggage.ptr.is_null(),
                "no copies"
            );
            assert_eq!(slow.traceparent.text, fast.traceparent.text);
            assert_eq!(fast.tracestate_given, !cts.is_empty());
            assert_eq!(fast.baggage_given, !cbg.is_empty());
            // Without a span context, a tracestate is never written.
            let none = TwSpanContext::default();
            ok(tw_inject_headers(
                &none,
                cts.as_ptr(),
                cts.len(),
                cbg.as_ptr(),
                cbg.len(),
                true,
                &mut fast,
            ));
            assert!(!fast.has_traceparent && !fast.tracestate_given);
            tw_injected_free(&mut slow);
            tw_injected_free(&mut slow);
        }
    }
}

#[test]
fn stream_metrics_through_the_abi() {
    // SAFETY: valid handle and pointers; everything freed.
    unsafe {
        let mut m = ptr::null_mut();
        let e = take(tw_stream_metrics_new(7, &mut m));
        assert_eq!(e.map(|e| e.0), Some(8), "unknown kind");
        ok(tw_stream_metrics_new(TW_STREAM_MODEL_OUTPUT, &mut m));
        struct Shared(*mut TwStreamMetrics);
        unsafe impl Send for Shared {}
        unsafe impl Sync for Shared {}
        let shared = Shared(m);
        std::thread::scope(|s| {
            for _ in 0..4 {
                s.spawn(|| {
                    let sh = &shared;
                    for i in 0..250i64 {
                        ok(tw_stream_metrics_record(sh.0, i * 1_000_000, 2));
                    }
                });
            }
        });
        let mut snap = TwStreamSnapshot::default();
        ok(tw_stream_metrics_snapshot(m, true, &mut snap));
        assert_eq!((snap.chunk_count, snap.bytes), (1000, 2000));
        assert!(snap.time_to_first_chunk.has && snap.interval_max.has);
        assert_eq!(snap.intervals.len, 999 * 8);
        assert!(!snap.attributes.ptr.is_null());
        tw_stream_snapshot_free(&mut snap);
        tw_stream_snapshot_free(&mut snap);

        let mut names = std::mem::MaybeUninit::<TwMetricNames>::uninit();
        ok(tw_stream_metric_names(
            TW_STREAM_MODEL_OUTPUT,
            names.as_mut_ptr(),
        ));
        let names = names.assume_init();
        let s = |t: TwStr| std::str::from_utf8(std::slice::from_raw_parts(t.ptr, t.len)).unwrap();
        let core = tracewire::StreamKind::ModelOutput.metric_names();
        assert_eq!(
            s(names.time_to_first_chunk.name),
            core.time_to_first_chunk.name
        );
        assert_eq!(s(names.chunk_interval.unit), core.chunk_interval.unit);
        let bounds = std::slice::from_raw_parts(
            names.chunk_interval.boundaries,
            names.chunk_interval.boundaries_len,
        );
        assert_eq!(bounds, core.chunk_interval.boundaries);
        tw_stream_metrics_free(&mut m);
        assert!(m.is_null());
    }
}

#[test]
fn unknown_enum_codes_are_invalid_argument_naming_the_enum() {
    let mut conn: *mut TwConnection = ptr::null_mut();
    let sid = "s1";
    // SAFETY: valid inputs; the outputs are checked and freed.
    unsafe {
        let (code, msg) = take(tw_connection_new(
            7,
            TW_ROLE_CLIENT,
            sid.as_ptr(),
            sid.len(),
            ptr::null(),
            0,
            ptr::null(),
            0,
            -1,
            &mut conn,
        ))
        .expect("an error");
        assert_eq!((code, msg.as_str()), (8, "unknown tracing model 7"));
        assert!(conn.is_null());
        let (_, msg) = take(tw_connection_new(
            TW_MODEL_MESSAGE,
            2,
            sid.as_ptr(),
            sid.len(),
            ptr::null(),
            0,
            ptr::null(),
            0,
            -1,
            &mut conn,
        ))
        .expect("an error");
        assert_eq!(msg, "unknown role 2");
        ok(tw_connection_new(
            TW_MODEL_MESSAGE,
            TW_ROLE_CLIENT,
            sid.as_ptr(),
            sid.len(),
            ptr::null(),
            0,
            ptr::null(),
            0,
            -1,
            &mut conn,
        ));
        let mut d = TwSpanDecision::default();
        let (_, msg) = take(tw_connection_message(conn, false, 5, 1, &mut d)).expect("an error");
        assert_eq!(msg, "unknown message type 5");
        ok(tw_connection_message(
            conn,
            false,
            TW_MESSAGE_TEXT,
            1,
            &mut d,
        ));
        // The attributes are the bridge's block.
        let attrs = tracewire_bridge::wire::Reader::new(bytes_of(&d.attributes))
            .attributes()
            .unwrap();
        assert!(
            attrs
                .iter()
                .any(|(k, _)| *k == "messaging.message.body.size")
        );
        tw_span_decision_free(&mut d);
        tw_connection_free(&mut conn);
    }
}
