//! Calls the C ABI directly, as a C caller would: NULL pointers, invalid
//! UTF-8, the panic guard, error codes, ownership and double-free protection.

use std::ffi::CStr;
use std::ptr;
use tracewire_capi::*;

const TP: &str = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";

/// Takes an error: its code and message, then frees it.
fn take(err: *mut TwError) -> Option<(u32, String)> {
    if err.is_null() {
        return None;
    }
    // SAFETY: a live error from the library.
    let out = unsafe {
        let msg = CStr::from_ptr(tw_error_message(err))
            .to_string_lossy()
            .into_owned();
        (tw_error_code(err), msg)
    };
    // SAFETY: freed once.
    unsafe { tw_error_free(err) };
    Some(out)
}

fn ok(err: *mut TwError) {
    if let Some((code, msg)) = take(err) {
        panic!("unexpected error {code}: {msg}");
    }
}

fn bytes_of(b: &TwBytes) -> &[u8] {
    if b.ptr.is_null() {
        return &[];
    }
    // SAFETY: Rust-owned bytes, live until freed.
    unsafe { std::slice::from_raw_parts(b.ptr, b.len) }
}

/// The context a C context describes: its record, read by the bridge, when
/// there is one (checked against `span` and `remote`), else `span` and
/// `remote` alone.
fn context_of(c: &TwContext) -> tracewire::TraceContext {
    let tp = c.span.valid.then_some(tracewire::TraceParent {
        trace_id: tracewire::TraceId(c.span.trace_id),
        span_id: tracewire::SpanId(c.span.span_id),
        flags: tracewire::TraceFlags(c.span.flags),
    });
    if c.record.ptr.is_null() {
        return tracewire::TraceContext {
            traceparent: tp,
            remote: c.remote,
            ..Default::default()
        };
    }
    let mut r = tracewire_bridge::wire::Reader::new(bytes_of(&c.record));
    let ctx = r.context().unwrap();
    assert!(r.is_empty(), "nothing after the record");
    assert_eq!((ctx.traceparent, ctx.remote), (tp, c.remote));
    assert!(!ctx.tracestate.is_empty() || !ctx.baggage.is_empty());
    ctx
}

fn span() -> TwSpanContext {
    let mut out = TwSpanContext::default();
    // SAFETY: valid input and output.
    ok(unsafe { tw_traceparent_parse(TP.as_ptr(), TP.len(), &mut out) });
    out
}

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
    assert_eq!(s(n.envelope), h::ENVELOPE_HEADER);
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
        assert_eq!(bytes_of(&out), &[0xF5, 0x54, 0x57, 1, 0]);
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
        assert_eq!(b.len, 31);
        tw_bytes_free(&mut b);
        assert!(b.ptr.is_null());
        tw_bytes_free(&mut b);

        let mut d = TwDecoded::default();
        let bad = [0xF5, 0x54, 0x57, 9, 0];
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
        assert!(got.starts_with(br#"{"traceparent":""#));
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
                    let frame = br#"{"traceparent":"00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"}"#;
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
    assert!(wire.starts_with(br#"{"traceparent":""#));
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

    let bad = br#"{"traceparent":"00-zz","x":1}"#;
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
