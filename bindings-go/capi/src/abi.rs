//! What every function shares: the error type and the panic guard, borrowed
//! inputs and out-pointers, Rust-owned bytes and static strings.

// Intra-doc links name functions of other modules, as the header does.
#[cfg(doc)]
#[allow(unused_imports)]
use crate::*;

use std::ffi::{CString, c_char};
use std::ptr;

use crate::codes::TW_ABI_VERSION;
use tracewire::ErrorCode;
use tracewire_bridge::{BridgeError, CoreError};

/// An error: a stable numeric code and a message. Opaque; read it with
/// [`tw_error_code`] and [`tw_error_message`], free it with [`tw_error_free`].
pub struct TwError {
    code: u32,
    message: CString,
}

impl TwError {
    /// An error with any numeric code (the test entry point passes codes the
    /// core does not define, so Go's handling of them can be checked).
    pub(crate) fn with_raw_code(code: u32, message: impl Into<String>) -> TwError {
        let message = message.into().replace('\0', "\\0");
        TwError {
            code,
            message: CString::new(message).unwrap_or_default(),
        }
    }

    pub(crate) fn new(code: ErrorCode, message: impl Into<String>) -> TwError {
        TwError::with_raw_code(code.as_u32(), message)
    }

    pub(crate) fn invalid_argument(message: &str) -> TwError {
        TwError::new(ErrorCode::InvalidArgument, message)
    }

    /// A core error, with its code and message.
    pub(crate) fn core<E: CoreError>(e: E) -> TwError {
        TwError::new(e.code(), e.to_string())
    }

    pub(crate) fn boxed(self) -> *mut TwError {
        Box::into_raw(Box::new(self))
    }
}

impl From<BridgeError> for TwError {
    fn from(e: BridgeError) -> Self {
        TwError::new(e.code, e.message)
    }
}

pub(crate) type Result<T> = std::result::Result<T, TwError>;

/// Runs `f` inside the bridge's panic guard, turning an error into a heap
/// `TwError` and a panic into a `panic` error, so nothing unwinds across
/// `extern "C"`.
pub(crate) fn guard(f: impl FnOnce() -> Result<()>) -> *mut TwError {
    match tracewire_bridge::guard::catch(f) {
        Ok(()) => ptr::null_mut(),
        Err(e) => e.boxed(),
    }
}

/// Borrows `(ptr, len)` for the call. NULL with length 0 is empty.
///
/// # Safety
/// `ptr` must be NULL or valid for reads of `len` bytes for the call.
pub(crate) unsafe fn bytes<'a>(ptr: *const u8, len: usize) -> Result<&'a [u8]> {
    if len == 0 {
        return Ok(&[]);
    }
    if ptr.is_null() {
        return Err(TwError::invalid_argument(
            "a NULL pointer was passed with a non-zero length",
        ));
    }
    // SAFETY: the caller guarantees `ptr` is valid for `len` bytes.
    Ok(unsafe { std::slice::from_raw_parts(ptr, len) })
}

/// Borrows `(ptr, len)` as UTF-8 text; invalid UTF-8 is `invalid_argument`.
///
/// # Safety
/// As [`bytes`].
pub(crate) unsafe fn text<'a>(ptr: *const u8, len: usize, what: &'static str) -> Result<&'a str> {
    // SAFETY: forwarded caller guarantee.
    let b = unsafe { bytes(ptr, len) }?;
    std::str::from_utf8(b).map_err(|_| TwError::invalid_argument(what))
}

/// Writes `value` to the out-pointer `out`.
///
/// # Safety
/// `out` must be NULL or valid for a write of `T`.
pub(crate) unsafe fn put<T>(out: *mut T, value: T) -> Result<()> {
    if out.is_null() {
        return Err(TwError::invalid_argument("a NULL out-pointer was passed"));
    }
    // SAFETY: non-NULL, and the caller guarantees it is writable. `write`
    // does not drop the (possibly uninitialised) old value.
    unsafe { out.write(value) };
    Ok(())
}

/// Writes a new handle owning `value` to `out`. The NULL check comes before
/// the allocation, so a NULL `out` leaks nothing.
///
/// # Safety
/// `out` must be NULL or valid for a write of a pointer.
pub(crate) unsafe fn put_handle<T>(out: *mut *mut T, value: T) -> Result<()> {
    if out.is_null() {
        return Err(TwError::invalid_argument("a NULL out-pointer was passed"));
    }
    // SAFETY: non-NULL, and the caller guarantees it is writable.
    unsafe { out.write(Box::into_raw(Box::new(value))) };
    Ok(())
}

/// Borrows the out-pointer `out`, for results written in place (a large
/// struct is then not built elsewhere and copied).
///
/// # Safety
/// `out` must be NULL or valid for reads and writes of `T`, and initialised
/// (e.g. by [`zero`]).
pub(crate) unsafe fn out_mut<'a, T>(out: *mut T) -> Result<&'a mut T> {
    // SAFETY: per the contract.
    unsafe { out.as_mut() }
        .ok_or_else(|| TwError::invalid_argument("a NULL out-pointer was passed"))
}

/// Zeroes `*out` (when not NULL) so an error leaves a well-defined value.
///
/// # Safety
/// `out` must be NULL or valid for a write of `T`.
pub(crate) unsafe fn zero<T: Default>(out: *mut T) {
    if !out.is_null() {
        // SAFETY: as `put`.
        unsafe { out.write(T::default()) };
    }
}

// ---------------------------------------------------------------------------
// Errors and buffers

/// The stable numeric code of `err` (see `ErrorCode` in the core and
/// `docs/PROTOCOL.md` section 8). Returns 0 when `err` is NULL.
/// Thread safety: any thread; `err` must not be freed concurrently.
///
/// # Safety
/// `err` must be NULL or an error returned by this library and not yet freed.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn tw_error_code(err: *const TwError) -> u32 {
    // SAFETY: the caller passes NULL or a live error.
    unsafe { err.as_ref() }.map_or(0, |e| e.code)
}

/// The message of `err`, a NUL-terminated UTF-8 string owned by `err`: valid
/// until `err` is freed, never to be freed by the caller. Returns NULL when
/// `err` is NULL.
/// Thread safety: any thread; `err` must not be freed concurrently.
///
/// # Safety
/// `err` must be NULL or an error returned by this library and not yet freed.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn tw_error_message(err: *const TwError) -> *const c_char {
    // SAFETY: the caller passes NULL or a live error.
    unsafe { err.as_ref() }.map_or(ptr::null(), |e| e.message.as_ptr())
}

/// Frees an error. NULL is a no-op. Each error must be freed once.
/// Thread safety: any thread; not concurrently with another use of `err`.
///
/// # Safety
/// `err` must be NULL or an error returned by this library and not yet freed.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn tw_error_free(err: *mut TwError) {
    if !err.is_null() {
        // SAFETY: the error was created by `Box::into_raw` in `guard`.
        drop(unsafe { Box::from_raw(err) });
    }
}

/// Bytes allocated by Rust: `len` bytes at `ptr` (NULL when empty). Free with
/// [`tw_bytes_free`]; never with `free(3)`.
#[repr(C)]
#[derive(Debug)]
pub struct TwBytes {
    /// The first byte, or NULL when `len` is 0.
    pub ptr: *mut u8,
    /// The number of bytes.
    pub len: usize,
}

impl Default for TwBytes {
    fn default() -> Self {
        TwBytes {
            ptr: ptr::null_mut(),
            len: 0,
        }
    }
}

impl TwBytes {
    pub(crate) fn from_vec(v: Vec<u8>) -> TwBytes {
        if v.is_empty() {
            return TwBytes::default();
        }
        let b = v.into_boxed_slice();
        let len = b.len();
        TwBytes {
            ptr: Box::into_raw(b).cast::<u8>(),
            len,
        }
    }

    pub(crate) fn from_string(s: String) -> TwBytes {
        TwBytes::from_vec(s.into_bytes())
    }

    /// Frees the bytes and zeroes the struct (idempotent).
    pub(crate) fn release(&mut self) {
        if !self.ptr.is_null() {
            let slice = ptr::slice_from_raw_parts_mut(self.ptr, self.len);
            // SAFETY: `ptr`/`len` came from `Box<[u8]>` in `from_vec`.
            drop(unsafe { Box::from_raw(slice) });
        }
        *self = TwBytes::default();
    }
}

/// Frees the bytes of `*bytes` and sets it to `{NULL, 0}`, so freeing twice is
/// harmless. NULL is a no-op.
/// Thread safety: any thread; not concurrently with another use of `*bytes`.
///
/// # Safety
/// `bytes` must be NULL or point to a `TwBytes` written by this library (or
/// zeroed).
#[unsafe(no_mangle)]
pub unsafe extern "C" fn tw_bytes_free(bytes: *mut TwBytes) {
    // SAFETY: the caller passes NULL or a valid TwBytes.
    if let Some(b) = unsafe { bytes.as_mut() } {
        b.release();
    }
}

/// The ABI version ([`TW_ABI_VERSION`]). Never fails; the cheapest call in the
/// library, used to measure the raw cost of crossing the ABI.
/// Thread safety: any thread.
/// Takes no pointer; nothing to free.
#[unsafe(no_mangle)]
pub extern "C" fn tw_abi_version() -> u32 {
    TW_ABI_VERSION
}

/// A static string: `len` bytes of UTF-8 at `ptr`, never freed.
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct TwStr {
    /// The first byte.
    pub ptr: *const u8,
    /// The number of bytes.
    pub len: usize,
}

impl TwStr {
    pub(crate) fn of(s: &'static str) -> TwStr {
        TwStr {
            ptr: s.as_ptr(),
            len: s.len(),
        }
    }
}

/// Borrows a handle.
///
/// # Safety
/// `h` NULL or a live handle.
pub(crate) unsafe fn handle<'a, T>(h: *const T, what: &'static str) -> Result<&'a T> {
    // SAFETY: per the contract.
    unsafe { h.as_ref() }.ok_or_else(|| TwError::invalid_argument(what))
}

/// Frees the handle in `*slot` (made by `Box::into_raw`) and sets the slot
/// to NULL, so a second call is a no-op; NULL `slot` or `*slot`: no-op. Every
/// `tw_*_free` of a handle is this.
///
/// # Safety
/// `slot` NULL or pointing to NULL or to a handle made by `Box::into_raw`
/// and not used by any other call.
pub(crate) unsafe fn free_handle<T>(slot: *mut *mut T) {
    // SAFETY: per the contract.
    if let Some(slot) = unsafe { slot.as_mut() } {
        let h = std::mem::replace(slot, std::ptr::null_mut());
        if !h.is_null() {
            // SAFETY: made by `Box::into_raw`, and the slot no longer holds it.
            drop(unsafe { Box::from_raw(h) });
        }
    }
}
