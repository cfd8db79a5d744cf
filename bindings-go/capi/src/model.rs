//! The tracing models: connections and the span and close decisions.

// Intra-doc links name functions of other modules, as the header does.
#[cfg(doc)]
#[allow(unused_imports)]
use crate::*;

use std::ptr;

use tracewire::model::{self, CloseDecision, Connection, SpanDecision};

use crate::abi::*;
use crate::convert;
use tracewire_bridge::Coded;

// ---------------------------------------------------------------------------
// Tracing models

/// The facts about one connection that every span decision depends on.
/// Immutable; share it between threads freely.
pub struct TwConnection(pub(crate) Connection);

/// Parses a model name (`connection` or `message`, case-insensitive) into a
/// `TW_MODEL_*` value. Errors: `invalid_argument`. Thread safety: any thread.
/// Nothing to free.
///
/// # Safety
/// `(name, len)` valid (or NULL with 0); `out` writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn tw_model_parse(
    name: *const u8,
    len: usize,
    out: *mut u32,
) -> *mut TwError {
    // SAFETY: NULL or writable.
    unsafe { zero(out) };
    guard(|| {
        // SAFETY: caller guarantee.
        let name = unsafe { text(name, len, "the model name is not UTF-8") }?;
        let m: model::Model = name.parse().map_err(TwError::core)?;
        // SAFETY: caller guarantee.
        unsafe { put(out, u32::from(m.code())) }
    })
}

/// Creates a connection description: `model` (`TW_MODEL_*`), `role`
/// (`TW_ROLE_*`), the session id, the URL path (empty: `/`), the server
/// address (`address` NULL: unknown) and port (`port` < 0: unknown).
///
/// Errors: `invalid_argument` for an unknown model or role, a port over
/// 65535, non-UTF-8 text or NULL pointers. Free `*out` with
/// [`tw_connection_free`]. Thread safety: any thread; the handle is safe to share.
///
/// # Safety
/// Each `(ptr, len)` valid (or NULL with 0); `out` writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn tw_connection_new(
    model: u32,
    role: u32,
    session_id: *const u8,
    session_id_len: usize,
    url_path: *const u8,
    url_path_len: usize,
    address: *const u8,
    address_len: usize,
    port: i32,
    out: *mut *mut TwConnection,
) -> *mut TwError {
    if !out.is_null() {
        // SAFETY: writable per the contract.
        unsafe { out.write(ptr::null_mut()) };
    }
    guard(|| {
        let model = model::Model::from_code(model)?;
        let role = model::Role::from_code(role)?;
        // SAFETY: caller guarantees.
        let (sid, path) = unsafe {
            (
                text(session_id, session_id_len, "the session id is not UTF-8")?,
                text(url_path, url_path_len, "the URL path is not UTF-8")?,
            )
        };
        let mut conn = Connection::new(model, role, sid, path);
        if !address.is_null() {
            // SAFETY: caller guarantee.
            let addr = unsafe { text(address, address_len, "the address is not UTF-8") }?;
            let port = if port < 0 {
                None
            } else {
                Some(
                    u16::try_from(port)
                        .map_err(|_| TwError::invalid_argument("port over 65535"))?,
                )
            };
            conn = conn.with_server(addr, port);
        }
        // SAFETY: caller guarantee.
        unsafe { put_handle(out, TwConnection(conn)) }
    })
}

/// Sets the route template the application matched (`/chat/{room}` for
/// `/chat/42`) on `conn`: span names use it, and it is recorded as
/// `http.route` and `messaging.destination.template`. Empty: none.
///
/// Errors: `invalid_argument` for non-UTF-8 text or NULL pointers. Thread
/// safety: not concurrently with other uses of the handle.
///
/// # Safety
/// `conn` a live handle; `(route, route_len)` valid (or NULL with 0).
#[unsafe(no_mangle)]
pub unsafe extern "C" fn tw_connection_set_route(
    conn: *mut TwConnection,
    route: *const u8,
    route_len: usize,
) -> *mut TwError {
    guard(|| {
        // SAFETY: caller guarantees.
        let (conn, route) = unsafe {
            (
                conn.as_mut()
                    .ok_or_else(|| TwError::invalid_argument("conn is NULL"))?,
                text(route, route_len, "the route is not UTF-8")?,
            )
        };
        conn.0 = conn.0.clone().with_route(route);
        Ok(())
    })
}

/// Frees `*conn` and sets it to NULL, so a second call is a no-op. NULL or
/// `*conn` NULL: no-op. Not concurrently with other uses of the handle.
/// Thread safety: any thread, once no other call uses the handle.
///
/// # Safety
/// `conn` NULL or pointing to NULL or a handle from [`tw_connection_new`].
#[unsafe(no_mangle)]
pub unsafe extern "C" fn tw_connection_free(conn: *mut *mut TwConnection) {
    // SAFETY: per the contract.
    unsafe { free_handle(conn) }
}

/// Everything needed to start one span. `attributes` is the bridge's
/// attributes block (all integers little-endian): a u32 count, then per
/// attribute a u32 length and the UTF-8 key, one tag byte and the value by
/// tag: 0 string (u32 length, UTF-8), 1 int (i64), 2 float (IEEE double),
/// 3 bool (one byte, 0 or 1). Free with [`tw_span_decision_free`].
#[repr(C)]
#[derive(Debug, Default)]
pub struct TwSpanDecision {
    /// The span name.
    pub name: TwBytes,
    /// `TW_SPAN_KIND_*`.
    pub kind: u32,
    /// Parent candidates in order (`TW_PARENT_*`); the first available wins.
    pub parents: [u32; 4],
    /// How many of `parents` are set.
    pub parent_count: u32,
    /// Links to add (`TW_LINK_*`).
    pub links: [u32; 4],
    /// How many of `links` are set.
    pub link_count: u32,
    /// The attributes (format above).
    pub attributes: TwBytes,
}

impl TwSpanDecision {
    fn release(&mut self) {
        self.name.release();
        self.attributes.release();
    }
}

/// Frees the buffers of `*d` and zeroes them (idempotent). NULL is a no-op.
/// Thread safety: any thread; not concurrently with another use of the same struct.
///
/// # Safety
/// `d` NULL or pointing to a `TwSpanDecision` written by this library (or zeroed).
#[unsafe(no_mangle)]
pub unsafe extern "C" fn tw_span_decision_free(d: *mut TwSpanDecision) {
    // SAFETY: per the contract.
    if let Some(d) = unsafe { d.as_mut() } {
        d.release();
    }
}

fn decision_out(d: &SpanDecision) -> TwSpanDecision {
    let mut out = TwSpanDecision {
        name: TwBytes::from_string(d.name.clone()),
        kind: u32::from(d.kind.code()),
        attributes: convert::attributes_out(&d.attributes),
        ..Default::default()
    };
    for (slot, p) in out.parents.iter_mut().zip(d.parent) {
        *slot = u32::from(p.code());
        out.parent_count += 1;
    }
    for (slot, l) in out.links.iter_mut().zip(d.links) {
        *slot = u32::from(l.code());
        out.link_count += 1;
    }
    out
}

/// The key of the one message-span attribute that changes from message to
/// message (the payload size), so a binding can prepare a connection's send
/// and receive decisions once, as the core's own WebSocket layer does, and
/// set only this attribute per message. A static string; nothing to free.
/// Takes no pointer. Thread safety: any thread.
#[unsafe(no_mangle)]
pub extern "C" fn tw_message_size_key() -> TwStr {
    TwStr::of(model::keys::MESSAGING_BODY_SIZE)
}

/// Whether the connection span ends when the upgrade completes (the
/// `message` model) rather than at close. Errors: `invalid_argument` for
/// NULL pointers. Thread safety: any thread.
/// Nothing to free.
///
/// # Safety
/// `conn` a live handle; `out` writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn tw_connection_ends_at_upgrade(
    conn: *const TwConnection,
    out: *mut bool,
) -> *mut TwError {
    // SAFETY: NULL or writable.
    unsafe { zero(out) };
    guard(|| {
        // SAFETY: caller guarantees.
        let c = unsafe { handle(conn, "the connection handle is NULL") }?;
        // SAFETY: caller guarantee.
        unsafe { put(out, c.0.connection_span_ends_at_upgrade()) }
    })
}

/// The connection span (`connect {path}` or `accept {path}`).
/// Errors: `invalid_argument` for NULL pointers. Free `*out` with
/// [`tw_span_decision_free`]. Thread safety: any thread.
///
/// # Safety
/// `conn` a live handle; `out` writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn tw_connection_open(
    conn: *const TwConnection,
    out: *mut TwSpanDecision,
) -> *mut TwError {
    // SAFETY: NULL or writable.
    unsafe { zero(out) };
    guard(|| {
        // SAFETY: caller guarantees.
        let c = unsafe { handle(conn, "the connection handle is NULL") }?;
        // SAFETY: caller guarantee.
        unsafe { put(out, decision_out(&c.0.open())) }
    })
}

/// The span for sending one data message (`TW_MESSAGE_*`) of `size` payload
/// bytes (or, with `receive` true, for processing one received message).
/// Errors: `invalid_argument` for an unknown message type or NULL pointers.
/// Free `*out` with [`tw_span_decision_free`]. Thread safety: any thread.
///
/// # Safety
/// `conn` a live handle; `out` writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn tw_connection_message(
    conn: *const TwConnection,
    receive: bool,
    message_type_: u32,
    size: u64,
    out: *mut TwSpanDecision,
) -> *mut TwError {
    // SAFETY: NULL or writable.
    unsafe { zero(out) };
    guard(|| {
        // SAFETY: caller guarantees.
        let c = unsafe { handle(conn, "the connection handle is NULL") }?;
        let t = model::MessageType::from_code(message_type_)?;
        let size = usize::try_from(size).unwrap_or(usize::MAX);
        let d = if receive {
            c.0.receive(t, size)
        } else {
            c.0.send(t, size)
        };
        // SAFETY: caller guarantee.
        unsafe { put(out, decision_out(&d)) }
    })
}

/// What to record when a connection closes. With `has_span` false, set
/// `attributes` (format of [`TwSpanDecision::attributes`]) on the connection
/// span and end it; with `has_span` true, start and end `span`.
/// Free with [`tw_close_decision_free`].
#[repr(C)]
#[derive(Debug, Default)]
pub struct TwCloseDecision {
    /// Close code and reason.
    pub attributes: TwBytes,
    /// Whether the close is abnormal (span status error).
    pub is_error: bool,
    /// Whether `span` is set.
    pub has_span: bool,
    /// The close span (message model).
    pub span: TwSpanDecision,
}

/// Frees the buffers of `*d` and zeroes them (idempotent). NULL is a no-op.
/// Thread safety: any thread; not concurrently with another use of the same struct.
///
/// # Safety
/// `d` NULL or pointing to a `TwCloseDecision` written by this library (or zeroed).
#[unsafe(no_mangle)]
pub unsafe extern "C" fn tw_close_decision_free(d: *mut TwCloseDecision) {
    // SAFETY: per the contract.
    if let Some(d) = unsafe { d.as_mut() } {
        d.attributes.release();
        d.span.release();
        d.has_span = false;
    }
}

/// What to record when the connection closes with `code` (< 0: ended without
/// a close frame, recorded as 1006) and `reason`; `receive_spans_skipped`
/// (the connection's budget count, [`tw_receive_span_budget_admit`]) is
/// recorded when not 0.
/// Errors: `invalid_argument` for a code over 65535, non-UTF-8 reason or
/// NULL pointers. Free `*out` with [`tw_close_decision_free`].
/// Thread safety: any thread.
///
/// # Safety
/// `conn` a live handle; `(reason, len)` valid (or NULL with 0); `out` writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn tw_connection_close(
    conn: *const TwConnection,
    code: i32,
    reason: *const u8,
    reason_len: usize,
    receive_spans_skipped: u64,
    out: *mut TwCloseDecision,
) -> *mut TwError {
    // SAFETY: NULL or writable.
    unsafe { zero(out) };
    guard(|| {
        // SAFETY: caller guarantees.
        let (c, reason) = unsafe {
            (
                handle(conn, "the connection handle is NULL")?,
                text(reason, reason_len, "the close reason is not UTF-8")?,
            )
        };
        let code = if code < 0 {
            None
        } else {
            Some(
                u16::try_from(code)
                    .map_err(|_| TwError::invalid_argument("close code over 65535"))?,
            )
        };
        let CloseDecision {
            attributes,
            is_error,
            span,
        } =
            c.0.close(code, reason)
                .with_receive_spans_skipped(receive_spans_skipped);
        let d = TwCloseDecision {
            attributes: convert::attributes_out(&attributes),
            is_error,
            has_span: span.is_some(),
            span: span.as_ref().map(decision_out).unwrap_or_default(),
        };
        // SAFETY: caller guarantee.
        unsafe { put(out, d) }
    })
}
