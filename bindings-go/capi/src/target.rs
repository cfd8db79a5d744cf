//! URL to span target: the `server.address`, `server.port` and `url.path`
//! that a connection's spans record (core `target::Target`).

// Intra-doc links name functions of other modules, as the header does.
#[cfg(doc)]
#[allow(unused_imports)]
use crate::*;

use tracewire::target::{Scheme, Target};
use tracewire_bridge::wire;

use crate::abi::*;

fn target_out(t: &Target) -> TwBytes {
    let mut w = wire::Writer::new();
    w.target(t);
    TwBytes::from_vec(w.out.clone())
}

/// Reads a client's `ws://` or `wss://` URL (`docs/PROTOCOL.md` section 7)
/// into `*out`, the bridge's target record (little-endian): a u32 length and
/// the UTF-8 address, an i32 port, a u32 length and the UTF-8 path (raw,
/// percent-encoded, no query, `/` when empty). On success the address is
/// never empty and the port never -1.
///
/// Errors: `invalid_url` for a URL that is not a WebSocket URL (scheme,
/// host, port, path; also for invalid UTF-8); `invalid_argument` for NULL
/// pointers. Free `*out` with [`tw_bytes_free`]. Thread safety: any thread.
///
/// # Safety
/// `(url, len)` valid (or NULL with 0); `out` writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn tw_target_from_url(
    url: *const u8,
    len: usize,
    out: *mut TwBytes,
) -> *mut TwError {
    // SAFETY: NULL or writable.
    unsafe { zero(out) };
    guard(|| {
        // SAFETY: caller guarantee.
        let url = std::str::from_utf8(unsafe { bytes(url, len) }?)
            .map_err(|_| TwError::new(tracewire::ErrorCode::InvalidUrl, "the URL is not UTF-8"))?;
        let t = Target::from_url(url).map_err(|e| TwError::new(e.code(), e.to_string()))?;
        // SAFETY: caller guarantee.
        unsafe { put(out, target_out(&t)) }
    })
}

/// A server's view of an upgrade request, read leniently into `*out` (the
/// target record of [`tw_target_from_url`]; address empty and port -1 when
/// unknown): `scheme` is `TW_SCHEME_WS`, `TW_SCHEME_WSS` or
/// `TW_SCHEME_UNKNOWN` (the server cannot tell); `host` the `Host` header
/// (NULL: absent); `request_target` the target of the request line (a path
/// such as `/chat?x=1`, or an absolute URL). A `Host` that cannot be read
/// (also invalid UTF-8) is left out; a request target that cannot be read
/// gives `/` with no address.
///
/// Errors: `invalid_argument` for an unknown scheme or NULL pointers with a
/// non-zero length only. Free `*out` with [`tw_bytes_free`]. Thread safety:
/// any thread.
///
/// # Safety
/// Each `(ptr, len)` valid (or NULL with 0); `out` writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn tw_target_from_request(
    scheme: i32,
    host: *const u8,
    host_len: usize,
    request_target: *const u8,
    request_target_len: usize,
    out: *mut TwBytes,
) -> *mut TwError {
    // SAFETY: NULL or writable.
    unsafe { zero(out) };
    guard(|| {
        let scheme = if scheme < 0 {
            None
        } else {
            let i = usize::try_from(scheme).unwrap_or(usize::MAX);
            Some(
                *Scheme::ALL
                    .get(i)
                    .ok_or_else(|| TwError::invalid_argument("unknown scheme"))?,
            )
        };
        // SAFETY: caller guarantees.
        let (host_bytes, target_bytes) = unsafe {
            (
                bytes(host, host_len)?,
                bytes(request_target, request_target_len)?,
            )
        };
        let host = if host.is_null() {
            None
        } else {
            std::str::from_utf8(host_bytes).ok()
        };
        // A target that is not UTF-8 cannot be read: "" is rejected, so the
        // lenient form gives its default.
        let request_target = std::str::from_utf8(target_bytes).unwrap_or("");
        let t = Target::from_request_lenient(scheme, host, request_target);
        // SAFETY: caller guarantee.
        unsafe { put(out, target_out(&t)) }
    })
}
