//! The handshake: header names, injection, extraction, the server's and the
//! client's side of the upgrade and session ids.

// Intra-doc links name functions of other modules, as the header does.
#[cfg(doc)]
#[allow(unused_imports)]
use crate::*;

use std::ffi::c_char;

use tracewire::TraceContext;
use tracewire::handshake::{self, AppProtocols, ClientHandshake, ServerHandshake};

use crate::abi::*;
use crate::context::{TwContext, TwIssues, TwSpanContext, TwTraceParentText};
use crate::convert::{self, context_in, fill_context, issues_out, put_context};
use crate::records;

// ---------------------------------------------------------------------------
// Handshake

/// The header (and query parameter) names the protocol uses, lowercase,
/// NUL-terminated, static: never freed.
#[repr(C)]
#[derive(Debug)]
pub struct TwHeaderNames {
    /// `traceparent`.
    pub traceparent: *const c_char,
    /// `tracestate`.
    pub tracestate: *const c_char,
    /// `baggage`.
    pub baggage: *const c_char,
    /// `tracewire-session`.
    pub session: *const c_char,
}

/// The protocol's header names (static strings). Never fails.
/// Thread safety: any thread.
/// The pointers are never NULL; nothing to free.
#[unsafe(no_mangle)]
pub extern "C" fn tw_header_names() -> TwHeaderNames {
    fn c(s: &'static std::ffi::CStr) -> *const c_char {
        s.as_ptr()
    }
    // Checked against the core's constants by the C-ABI test.
    TwHeaderNames {
        traceparent: c(c"traceparent"),
        tracestate: c(c"tracestate"),
        baggage: c(c"baggage"),
        session: c(c"tracewire-session"),
    }
}

/// Header values to write for a context. `traceparent` is set when
/// `has_traceparent`; `tracestate` and `baggage` are empty when not to be
/// written. Free with [`tw_injected_free`].
#[repr(C)]
#[derive(Debug, Default)]
pub struct TwInjected {
    /// Whether to write `traceparent`.
    pub has_traceparent: bool,
    /// The `traceparent` value.
    pub traceparent: TwTraceParentText,
    /// The `tracestate` value (empty: do not write).
    pub tracestate: TwBytes,
    /// The `baggage` value (empty: do not write).
    pub baggage: TwBytes,
    /// With `canonical` input: write the `tracestate` value that was passed in.
    pub tracestate_given: bool,
    /// With `canonical` input: write the `baggage` value that was passed in.
    pub baggage_given: bool,
}

/// Frees the buffers of `*inj` and zeroes them (idempotent). NULL is a no-op.
/// Thread safety: any thread; not concurrently with another use of the same struct.
///
/// # Safety
/// `inj` must be NULL or point to a `TwInjected` written by this library (or zeroed).
#[unsafe(no_mangle)]
pub unsafe extern "C" fn tw_injected_free(inj: *mut TwInjected) {
    // SAFETY: the caller passes NULL or a valid TwInjected.
    if let Some(i) = unsafe { inj.as_mut() } {
        i.tracestate.release();
        i.baggage.release();
    }
}

struct InjectedSink<'a>(&'a mut TwInjected);

impl handshake::HeaderSink for InjectedSink<'_> {
    fn set(&mut self, name: &'static str, value: &str) {
        match name {
            handshake::TRACEPARENT if value.len() == 55 => {
                self.0.has_traceparent = true;
                self.0.traceparent.text.copy_from_slice(value.as_bytes());
            }
            handshake::TRACESTATE => {
                self.0.tracestate = TwBytes::from_string(value.to_owned());
            }
            handshake::BAGGAGE => self.0.baggage = TwBytes::from_string(value.to_owned()),
            _ => {}
        }
    }
}

/// The handshake headers for a context (W3C `traceparent`, `tracestate`,
/// `baggage`), as `handshake::inject` writes them. The context is `*span`
/// plus `tracestate` and `baggage` header values; an invalid `tracestate` or
/// `baggage` value (or one that is not UTF-8) is dropped, as a receiver would.
///
/// With `canonical` false, the values are parsed and re-serialised and the
/// results are in `out->tracestate` and `out->baggage`. With `canonical`
/// true, the caller vouches that the values are ones this function returned
/// before (so parsing them again would give them back): nothing is parsed or
/// copied, and `out->tracestate_given` / `out->baggage_given` say whether to
/// write the values passed in. Callers cache the canonical forms this way.
///
/// Errors: `invalid_argument` for NULL pointers. Free `*out` with
/// [`tw_injected_free`]. Thread safety: any thread.
///
/// # Safety
/// `span` readable; each `(ptr, len)` valid (or NULL with 0); `out` writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn tw_inject_headers(
    span: *const TwSpanContext,
    tracestate: *const u8,
    tracestate_len: usize,
    baggage: *const u8,
    baggage_len: usize,
    canonical: bool,
    out: *mut TwInjected,
) -> *mut TwError {
    // SAFETY: `out` is NULL or writable.
    unsafe { zero(out) };
    guard(|| {
        let mut inj = TwInjected::default();
        if canonical {
            // The rules of `handshake::inject`, on values already in their
            // header form; the handshake vectors and the Go interop tests
            // check both paths give the same headers.
            // SAFETY: caller guarantees.
            let tp = match unsafe { span.as_ref() } {
                Some(s) => convert::span_in(s)?,
                None => None,
            };
            if let Some(tp) = tp {
                inj.has_traceparent = true;
                inj.traceparent.text = tp.encode();
                inj.tracestate_given = tracestate_len > 0;
            }
            inj.baggage_given = baggage_len > 0;
            // SAFETY: caller guarantee.
            return unsafe { put(out, inj) };
        }
        // SAFETY: caller guarantees.
        let ctx = unsafe { context_in(span, tracestate, tracestate_len, baggage, baggage_len) }?;
        handshake::inject(&ctx, &mut InjectedSink(&mut inj));
        // SAFETY: caller guarantee.
        unsafe { put(out, inj) }
    })
}

/// Extracts a context from the three W3C header values, as a receiver does:
/// `traceparent_lines` says how many `traceparent` header lines there were
/// (0: none, the value is ignored; more than 1 is invalid); `tracestate` and
/// `baggage` hold every line of their header joined with `,` (empty: none).
/// Never fails on bad values: what was ignored is in `*issues`. With
/// `header_forms`, `*out` also carries the core's tracestate and baggage header
/// forms (see [`TwContext`]).
///
/// Errors: `invalid_argument` for NULL pointers only. Free `*out` with
/// [`tw_context_free`]; `*issues` needs no freeing. Thread safety: any thread.
///
/// # Safety
/// Each `(ptr, len)` valid (or NULL with 0); `out` and `issues` writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn tw_extract_values(
    traceparent: *const u8,
    traceparent_len: usize,
    traceparent_lines: u32,
    tracestate: *const u8,
    tracestate_len: usize,
    baggage: *const u8,
    baggage_len: usize,
    header_forms: bool,
    out: *mut TwContext,
    issues: *mut TwIssues,
) -> *mut TwError {
    // SAFETY: both are NULL or writable.
    unsafe {
        zero(out);
        zero(issues);
    }
    guard(|| {
        // SAFETY: caller guarantees.
        let (tp, ts, bg) = unsafe {
            (
                bytes(traceparent, traceparent_len)?,
                bytes(tracestate, tracestate_len)?,
                bytes(baggage, baggage_len)?,
            )
        };
        let tp = lossy(tp);
        // Only the number of lines matters beyond the first (two or more is
        // invalid), so no list is allocated.
        let lines = [tp.as_ref(), tp.as_ref()];
        let tp_lines: &[&str] = match traceparent_lines {
            0 => &[],
            1 => &lines[..1],
            _ => &lines,
        };
        let ts = lossy(ts);
        let bg = lossy(bg);
        let ts_lines: &[&str] = if ts.is_empty() { &[] } else { &[&ts] };
        let bg_lines: &[&str] = if bg.is_empty() { &[] } else { &[&bg] };
        let (ctx, found) = TraceContext::from_header_values(tp_lines, ts_lines, bg_lines);
        // SAFETY: caller guarantees.
        unsafe {
            put(issues, issues_out(&found))?;
            put_context(out, &ctx, header_forms)
        }
    })
}

/// Header text: borrowed when it is UTF-8, as it almost always is (the
/// standard library's check is much faster than `from_utf8_lossy`'s scan);
/// otherwise with replacement characters, which make the value invalid so
/// that it is reported like any bad value.
fn lossy(b: &[u8]) -> std::borrow::Cow<'_, str> {
    match std::str::from_utf8(b) {
        Ok(s) => std::borrow::Cow::Borrowed(s),
        Err(_) => String::from_utf8_lossy(b),
    }
}

/// Request headers as records (name, value, name, value, ...), as `(name, value)` pairs.
fn header_pairs(buf: &[u8]) -> Result<Vec<(String, String)>> {
    let items = records::read(buf)?;
    if items.len() % 2 != 0 {
        return Err(TwError::invalid_argument(
            "header records must be name/value pairs",
        ));
    }
    // A value that is not UTF-8 cannot hold a valid context; the lossy
    // conversion makes it invalid, so it is reported like any bad value.
    Ok(items
        .chunks(2)
        .map(|p| {
            (
                String::from_utf8_lossy(p[0]).into_owned(),
                String::from_utf8_lossy(p[1]).into_owned(),
            )
        })
        .collect())
}

/// Borrows an optional text (a query string, a selected subprotocol): NULL
/// means none.
///
/// # Safety
/// As [`bytes`].
unsafe fn query_in<'a>(query: *const u8, len: usize) -> Result<Option<std::borrow::Cow<'a, str>>> {
    if query.is_null() {
        return Ok(None);
    }
    // SAFETY: forwarded.
    Ok(Some(String::from_utf8_lossy(unsafe { bytes(query, len) }?)))
}

/// Extracts a context from request headers (records: name, value, ...; names
/// case-insensitive), then from the query string (`query` NULL: none), with
/// the precedence of `docs/PROTOCOL.md` section 3.2. Never fails on bad values:
/// what was ignored is in `*issues`. `header_forms` as for [`tw_extract_values`].
///
/// Errors: `invalid_argument` for malformed records or NULL pointers. Free
/// `*out` with [`tw_context_free`]. Thread safety: any thread.
///
/// # Safety
/// Each `(ptr, len)` valid (or NULL with 0); `out` and `issues` writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn tw_extract(
    headers: *const u8,
    headers_len: usize,
    query: *const u8,
    query_len: usize,
    header_forms: bool,
    out: *mut TwContext,
    issues: *mut TwIssues,
) -> *mut TwError {
    // SAFETY: both are NULL or writable.
    unsafe {
        zero(out);
        zero(issues);
    }
    guard(|| {
        // SAFETY: caller guarantees.
        let pairs = header_pairs(unsafe { bytes(headers, headers_len) }?)?;
        // SAFETY: caller guarantees.
        let query = unsafe { query_in(query, query_len) }?;
        let (ctx, found) = handshake::extract(&pairs, query.as_deref());
        // SAFETY: caller guarantees.
        unsafe {
            put(issues, issues_out(&found))?;
            put_context(out, &ctx, header_forms)
        }
    })
}

use tracewire_bridge::{envelopes_from_bits as envelopes_in, envelopes_to_bits as envelopes_out};

/// The application's subprotocols (records: one name each), checked by the
/// core: `invalid_argument` for a name that is not a token or starts with
/// `tracewire.`.
fn apps_in(buf: &[u8]) -> Result<AppProtocols> {
    let names = records::read(buf)?
        .into_iter()
        .map(|n| String::from_utf8_lossy(n).into_owned());
    AppProtocols::new(names).map_err(|e| TwError::invalid_argument(e.0))
}

/// What a server learns from an upgrade request, and what it answers.
/// Free with [`tw_server_handshake_free`].
#[repr(C)]
#[derive(Debug, Default)]
pub struct TwServerHandshake {
    /// The client's context (empty when none was sent or it was invalid),
    /// with the core's tracestate and baggage header forms.
    pub context: TwContext,
    /// What was ignored while extracting.
    pub issues: TwIssues,
    /// The envelopes both sides will use (`TW_ENVELOPE_*` bits).
    pub envelopes: u32,
    /// The session id (the client's, or a new one).
    pub session_id: TwBytes,
    /// The subprotocol to answer in `Sec-WebSocket-Protocol` (empty: none).
    pub subprotocol: TwBytes,
    /// The application's subprotocol, by its own name (empty: none).
    pub app_protocol: TwBytes,
}

/// Frees the buffers of `*hs` and zeroes them (idempotent). NULL is a no-op.
/// Thread safety: any thread; not concurrently with another use of the same struct.
///
/// # Safety
/// `hs` must be NULL or point to a `TwServerHandshake` written by this library (or zeroed).
#[unsafe(no_mangle)]
pub unsafe extern "C" fn tw_server_handshake_free(hs: *mut TwServerHandshake) {
    // SAFETY: the caller passes NULL or a valid struct.
    if let Some(h) = unsafe { hs.as_mut() } {
        h.context.release();
        h.session_id.release();
        h.subprotocol.release();
        h.app_protocol.release();
    }
}

/// Reads an upgrade request: headers (records: name, value, ...) and the query
/// string (`query` NULL: none), and selects the subprotocol (docs/PROTOCOL.md
/// section 3); `supported` is the server's `TW_ENVELOPE_*` set, `apps` the
/// application's subprotocols (records: one name each).
///
/// Errors: `invalid_argument` for malformed records, an invalid application
/// subprotocol or NULL pointers. Free `*out` with [`tw_server_handshake_free`].
/// Thread safety: any thread.
///
/// # Safety
/// Each `(ptr, len)` valid (or NULL with 0); `out` writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn tw_server_handshake(
    headers: *const u8,
    headers_len: usize,
    query: *const u8,
    query_len: usize,
    supported: u32,
    apps: *const u8,
    apps_len: usize,
    out: *mut TwServerHandshake,
) -> *mut TwError {
    // SAFETY: NULL or writable.
    unsafe { zero(out) };
    guard(|| {
        // SAFETY: caller guarantees.
        let pairs = header_pairs(unsafe { bytes(headers, headers_len) }?)?;
        // SAFETY: caller guarantees.
        let query = unsafe { query_in(query, query_len) }?;
        // SAFETY: caller guarantees.
        let apps = apps_in(unsafe { bytes(apps, apps_len) }?)?;
        let hs =
            ServerHandshake::from_request(&pairs, query.as_deref(), envelopes_in(supported), &apps);
        let mut res = TwServerHandshake {
            issues: issues_out(&hs.issues),
            envelopes: envelopes_out(hs.envelopes),
            session_id: TwBytes::from_string(hs.session_id),
            subprotocol: TwBytes::from_string(hs.subprotocol.unwrap_or_default()),
            app_protocol: TwBytes::from_string(hs.app_protocol.unwrap_or_default()),
            ..TwServerHandshake::default()
        };
        fill_context(&mut res.context, &hs.context, true);
        // SAFETY: caller guarantee.
        unsafe { put(out, res) }
    })
}

/// The request headers of a client handshake (records: name, value, ...):
/// the context (`*span`, `tracestate` and `baggage` header values; invalid ones
/// dropped) and `session_id` (NULL or empty: a new one is generated).
/// `*session_out` receives the session id used. The envelope offer is not a
/// header: see [`tw_client_subprotocols`].
///
/// Errors: `invalid_argument` for an invalid session id (not 1 to 128 visible
/// ASCII characters) or NULL pointers. Free both outputs with
/// [`tw_bytes_free`]. Thread safety: any thread.
///
/// # Safety
/// Each `(ptr, len)` valid (or NULL with 0); `span` readable; outputs writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn tw_client_request_headers(
    span: *const TwSpanContext,
    tracestate: *const u8,
    tracestate_len: usize,
    baggage: *const u8,
    baggage_len: usize,
    session_id: *const u8,
    session_id_len: usize,
    headers_out: *mut TwBytes,
    session_out: *mut TwBytes,
) -> *mut TwError {
    // SAFETY: NULL or writable.
    unsafe {
        zero(headers_out);
        zero(session_out);
    }
    guard(|| {
        // SAFETY: caller guarantees.
        let ctx = unsafe { context_in(span, tracestate, tracestate_len, baggage, baggage_len) }?;
        let mut hs = ClientHandshake::new(tracewire::handshake::Envelopes::NONE);
        // SAFETY: caller guarantees.
        let sid = unsafe { text(session_id, session_id_len, "the session id is not UTF-8") }?;
        if !sid.is_empty() {
            if sid.len() > 128 || !sid.bytes().all(|b| b.is_ascii_graphic()) {
                return Err(TwError::invalid_argument(
                    "a session id is 1 to 128 visible ASCII characters",
                ));
            }
            hs.session_id = sid.to_owned();
        }
        let mut headers: Vec<(String, String)> = Vec::new();
        hs.request_headers(&ctx, &mut headers);
        let mut w = records::Writer::default();
        for (k, v) in &headers {
            w.push(k.as_bytes());
            w.push(v.as_bytes());
        }
        // SAFETY: caller guarantees.
        unsafe {
            put(headers_out, TwBytes::from_vec(w.finish()))?;
            put(session_out, TwBytes::from_string(hs.session_id))
        }
    })
}

/// The subprotocols a client offers (records: one token each, most
/// preferred first) for the envelopes `offered` (`TW_ENVELOPE_*`) and the
/// application's subprotocols `apps` (records: one name each).
///
/// Errors: `invalid_argument` for malformed records, an invalid application
/// subprotocol or NULL pointers. Free `*out` with [`tw_bytes_free`].
/// Thread safety: any thread.
///
/// # Safety
/// `(apps, apps_len)` valid (or NULL with 0); `out` writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn tw_client_subprotocols(
    offered: u32,
    apps: *const u8,
    apps_len: usize,
    out: *mut TwBytes,
) -> *mut TwError {
    // SAFETY: NULL or writable.
    unsafe { zero(out) };
    guard(|| {
        // SAFETY: caller guarantees.
        let apps = apps_in(unsafe { bytes(apps, apps_len) }?)?;
        let hs = ClientHandshake::new(envelopes_in(offered)).with_apps(apps);
        let mut w = records::Writer::default();
        for token in hs.subprotocols() {
            w.push(token.as_bytes());
        }
        // SAFETY: caller guarantee.
        unsafe { put(out, TwBytes::from_vec(w.finish())) }
    })
}

/// What the server's selected subprotocol means for a client that offered
/// `offered` (`TW_ENVELOPE_*`) and `apps` (records: one name each):
/// `*envelopes` the envelopes to use, `*app_out` the application's
/// subprotocol (empty: none). `selected` NULL means the server selected
/// none; a selection that was not offered means nothing (0, empty).
///
/// Errors: `invalid_argument` for malformed records, an invalid application
/// subprotocol or NULL pointers. Free `*app_out` with [`tw_bytes_free`].
/// Thread safety: any thread.
///
/// # Safety
/// Each `(ptr, len)` valid (or NULL with 0); outputs writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn tw_client_negotiated(
    offered: u32,
    apps: *const u8,
    apps_len: usize,
    selected: *const u8,
    selected_len: usize,
    envelopes: *mut u32,
    app_out: *mut TwBytes,
) -> *mut TwError {
    // SAFETY: NULL or writable.
    unsafe {
        zero(envelopes);
        zero(app_out);
    }
    guard(|| {
        // SAFETY: caller guarantees.
        let apps = apps_in(unsafe { bytes(apps, apps_len) }?)?;
        // SAFETY: caller guarantees.
        let selected = unsafe { query_in(selected, selected_len) }?;
        let hs = ClientHandshake::new(envelopes_in(offered)).with_apps(apps);
        let n = hs.negotiated(selected.as_deref());
        // SAFETY: caller guarantees.
        unsafe {
            put(envelopes, envelopes_out(n.envelopes))?;
            put(
                app_out,
                TwBytes::from_string(n.app_protocol.unwrap_or_default()),
            )
        }
    })
}

/// Writes a new session id (32 lowercase hex characters) to `*out`.
/// Errors: `invalid_argument` for a NULL `out`. Free `*out` with
/// [`tw_bytes_free`]. Thread safety: any thread.
///
/// # Safety
/// `out` writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn tw_new_session_id(out: *mut TwBytes) -> *mut TwError {
    // SAFETY: NULL or writable.
    unsafe { zero(out) };
    guard(|| {
        // SAFETY: caller guarantee.
        unsafe { put(out, TwBytes::from_string(handshake::new_session_id())) }
    })
}
