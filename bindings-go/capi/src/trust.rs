//! The trust policy (core `model::Trust`, `docs/PROTOCOL.md` section 12):
//! the `TwTrust` handle, the admission of received contexts, the connection
//! that applies a policy, and a connection's receive span budget.

// Intra-doc links name functions of other modules, as the header does.
#[cfg(doc)]
#[allow(unused_imports)]
use crate::*;

use tracewire::model::{ReceiveSpanBudget, RemoteContext, Trust};
use tracewire_bridge::{BaggagePolicyKind, Coded};

use crate::abi::*;
use crate::context::{TwContext, TwSpanContext};
use crate::convert::{context_in, put_context};
use crate::model::TwConnection;
use crate::records;

/// A trust policy: what a received context may do to a connection's spans.
/// Immutable; share it between threads freely.
pub struct TwTrust(Trust);

/// Creates a trust policy: `remote_context` (`TW_REMOTE_CONTEXT_*`),
/// `baggage` (`TW_BAGGAGE_*`) with, for `TW_BAGGAGE_ALLOW_KEYS`, the keys
/// kept as records (`keys`, each a u32 length and UTF-8; ignored otherwise),
/// and `max_receive_spans` (< 0: no limit).
///
/// Errors: `invalid_argument` for an unknown code, a limit over 2^32 - 1,
/// malformed or non-UTF-8 keys, or NULL pointers. Free `*out` with
/// [`tw_trust_free`]. Thread safety: any thread; the handle is safe to share.
///
/// # Safety
/// `(keys, keys_len)` valid (or NULL with 0); `out` writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn tw_trust_new(
    remote_context: u32,
    baggage: u32,
    keys: *const u8,
    keys_len: usize,
    max_receive_spans: i64,
    out: *mut *mut TwTrust,
) -> *mut TwError {
    if !out.is_null() {
        // SAFETY: writable per the contract.
        unsafe { out.write(std::ptr::null_mut()) };
    }
    guard(|| {
        let remote_context = RemoteContext::from_code(remote_context)?;
        let kind = BaggagePolicyKind::from_code(baggage)?;
        // SAFETY: caller guarantee.
        let keys = records::read_strings(unsafe { bytes(keys, keys_len) }?)?;
        let max_receive_spans = if max_receive_spans < 0 {
            None
        } else {
            Some(
                u32::try_from(max_receive_spans)
                    .map_err(|_| TwError::invalid_argument("max_receive_spans over 2^32 - 1"))?,
            )
        };
        let trust = Trust {
            remote_context,
            baggage: kind.policy(keys.into_iter().map(str::to_owned)),
            max_receive_spans,
        };
        // SAFETY: caller guarantee.
        unsafe { put_handle(out, TwTrust(trust)) }
    })
}

/// The untrusted preset (`Trust::untrusted`): link, drop baggage, a new
/// session id on a server, at most 1024 process spans. Free `*out` with
/// [`tw_trust_free`]. Errors: `invalid_argument` for NULL. Thread safety:
/// any thread.
///
/// # Safety
/// `out` writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn tw_trust_untrusted(out: *mut *mut TwTrust) -> *mut TwError {
    guard(|| {
        // SAFETY: caller guarantee.
        unsafe { put_handle(out, TwTrust(Trust::untrusted())) }
    })
}

/// Frees `*trust` and sets it to NULL (idempotent; NULL is a no-op).
/// Thread safety: any thread, once no other call uses the handle.
///
/// # Safety
/// `trust` NULL or pointing to NULL or a handle from [`tw_trust_new`].
#[unsafe(no_mangle)]
pub unsafe extern "C" fn tw_trust_free(trust: *mut *mut TwTrust) {
    // SAFETY: per the contract.
    unsafe { free_handle(trust) }
}

/// A received context (the span context and the `tracestate` and `baggage`
/// header values) as `trust` admits it: baggage filtered, span context
/// dropped under `TW_REMOTE_CONTEXT_IGNORE`. `*out` is a remote context with
/// its record (no header forms); free it with [`tw_context_free`].
///
/// Errors: `invalid_argument` for NULL handles or an invalid span context.
/// Thread safety: any thread.
///
/// # Safety
/// `trust` a live handle; `span` NULL or readable; each `(ptr, len)` valid
/// (or NULL with 0); `out` writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn tw_trust_admit(
    trust: *const TwTrust,
    span: *const TwSpanContext,
    tracestate: *const u8,
    tracestate_len: usize,
    baggage: *const u8,
    baggage_len: usize,
    out: *mut TwContext,
) -> *mut TwError {
    // SAFETY: NULL or writable.
    unsafe { zero(out) };
    guard(|| {
        // SAFETY: caller guarantees.
        let (t, received) = unsafe {
            (
                handle(trust, "the trust handle is NULL")?,
                context_in(span, tracestate, tracestate_len, baggage, baggage_len)?,
            )
        };
        let mut admitted = t.0.admit(received);
        admitted.remote = true;
        // SAFETY: caller guarantee.
        unsafe { put_context(out, &admitted, false) }
    })
}

/// A new connection handle: `conn` with `trust` (core
/// `Connection::with_trust`; a server that does not trust its client as a
/// parent gets a session id of its own). Free `*out` with
/// [`tw_connection_free`]. Errors: `invalid_argument` for NULL handles.
/// Thread safety: any thread.
///
/// # Safety
/// `conn` and `trust` live handles; `out` writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn tw_connection_with_trust(
    conn: *const TwConnection,
    trust: *const TwTrust,
    out: *mut *mut TwConnection,
) -> *mut TwError {
    if !out.is_null() {
        // SAFETY: writable per the contract.
        unsafe { out.write(std::ptr::null_mut()) };
    }
    guard(|| {
        // SAFETY: caller guarantees.
        let (c, t) = unsafe {
            (
                handle(conn, "the connection handle is NULL")?,
                handle(trust, "the trust handle is NULL")?,
            )
        };
        let trusted = TwConnection(c.0.clone().with_trust(t.0.clone()));
        // SAFETY: caller guarantee.
        unsafe { put_handle(out, trusted) }
    })
}

/// The session id the connection records (the client's, unless a server
/// does not trust its client as a parent). Free `*out` with
/// [`tw_bytes_free`]. Errors: `invalid_argument` for NULL.
/// Thread safety: any thread.
///
/// # Safety
/// `conn` a live handle; `out` writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn tw_connection_session_id(
    conn: *const TwConnection,
    out: *mut TwBytes,
) -> *mut TwError {
    // SAFETY: NULL or writable.
    unsafe { zero(out) };
    guard(|| {
        // SAFETY: caller guarantee.
        let c = unsafe { handle(conn, "the connection handle is NULL") }?;
        // SAFETY: caller guarantee.
        unsafe { put(out, TwBytes::from_string(c.0.session_id.clone())) }
    })
}

/// Counts one connection's process spans against its policy's
/// `max_receive_spans`. Lock-free; share it between threads freely.
pub struct TwReceiveSpanBudget(ReceiveSpanBudget);

/// A new budget of `limit` process spans (< 0: no limit). Free `*out` with
/// [`tw_receive_span_budget_free`]. Errors: `invalid_argument` for a limit
/// over 2^32 - 1 or NULL. Thread safety: any thread.
///
/// # Safety
/// `out` writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn tw_receive_span_budget_new(
    limit: i64,
    out: *mut *mut TwReceiveSpanBudget,
) -> *mut TwError {
    if !out.is_null() {
        // SAFETY: writable per the contract.
        unsafe { out.write(std::ptr::null_mut()) };
    }
    guard(|| {
        let limit = if limit < 0 {
            None
        } else {
            Some(
                u32::try_from(limit)
                    .map_err(|_| TwError::invalid_argument("the limit is over 2^32 - 1"))?,
            )
        };
        let budget = TwReceiveSpanBudget(ReceiveSpanBudget::new(limit));
        // SAFETY: caller guarantee.
        unsafe { put_handle(out, budget) }
    })
}

/// The budget of the connection's policy (`max_receive_spans`). Free `*out`
/// with [`tw_receive_span_budget_free`]. Errors: `invalid_argument` for NULL.
/// Thread safety: any thread.
///
/// # Safety
/// `conn` a live handle; `out` writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn tw_connection_receive_span_budget(
    conn: *const TwConnection,
    out: *mut *mut TwReceiveSpanBudget,
) -> *mut TwError {
    if !out.is_null() {
        // SAFETY: writable per the contract.
        unsafe { out.write(std::ptr::null_mut()) };
    }
    guard(|| {
        // SAFETY: caller guarantee.
        let c = unsafe { handle(conn, "the connection handle is NULL") }?;
        let budget = TwReceiveSpanBudget(c.0.trust.receive_span_budget());
        // SAFETY: caller guarantee.
        unsafe { put_handle(out, budget) }
    })
}

/// Whether the message just received gets a process span (`*spanned`);
/// when not, it is counted, and `*skipped` is the count so far. Errors:
/// `invalid_argument` for NULL. Thread safety: any thread.
///
/// # Safety
/// `budget` a live handle; `spanned` and `skipped` writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn tw_receive_span_budget_admit(
    budget: *const TwReceiveSpanBudget,
    spanned: *mut bool,
    skipped: *mut u64,
) -> *mut TwError {
    guard(|| {
        // SAFETY: caller guarantee.
        let b = unsafe { handle(budget, "the budget handle is NULL") }?;
        let admitted = b.0.admit();
        // SAFETY: caller guarantee.
        unsafe {
            put(spanned, admitted)?;
            put(skipped, b.0.skipped())
        }
    })
}

/// Frees `*budget` and sets it to NULL (idempotent; NULL is a no-op).
/// Thread safety: any thread, once no other call uses the handle.
///
/// # Safety
/// `budget` NULL or pointing to NULL or a handle from this module.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn tw_receive_span_budget_free(budget: *mut *mut TwReceiveSpanBudget) {
    // SAFETY: per the contract.
    unsafe { free_handle(budget) }
}
