//! Applying a span decision as data (core `model::choose`): which context is
//! the parent, whether the connection span is linked, which baggage the new
//! span's context carries.

// Intra-doc links name functions of other modules, as the header does.
#[cfg(doc)]
#[allow(unused_imports)]
use crate::*;

use tracewire::model::{self, LinkSource, ParentSource};
use tracewire_bridge::{Coded, available_from_bits, pack_applied};

use crate::abi::*;

/// The most candidates or links a decision has (the arrays of
/// [`TwSpanDecision`]).
const MAX: usize = 4;

/// Reads `n` codes of `T` from `ptr` into a fixed array.
///
/// # Safety
/// `ptr` NULL with `n` 0, or valid for `n` reads.
unsafe fn read_codes<T: Coded>(ptr: *const u32, n: usize, fill: T) -> Result<([T; MAX], usize)> {
    let mut out = [fill; MAX];
    if n == 0 {
        return Ok((out, 0));
    }
    if n > MAX || ptr.is_null() {
        return Err(TwError::invalid_argument(
            "at most 4 codes, from a non-NULL pointer",
        ));
    }
    // SAFETY: caller guarantee, `n` checked above.
    let codes = unsafe { std::slice::from_raw_parts(ptr, n) };
    for (slot, c) in out.iter_mut().zip(codes) {
        *slot = T::from_code(*c)?;
    }
    Ok((out, n))
}

/// How to start the span of a decision whose parent candidates are
/// `parents` (`TW_PARENT_*`, in order) and links `links` (`TW_LINK_*`), given
/// what is at hand (`available`, a set of `TW_AVAILABLE_*` bits the caller
/// reads off its own contexts). `*out` is one word: bits 0-7 the parent
/// (`TW_APPLIED_PARENT_*`), bits 8-15 the baggage the span's context carries
/// (`TW_APPLIED_BAGGAGE_*`), `TW_APPLIED_LINK_CONNECTION` when the
/// connection span is linked and `TW_APPLIED_LINK_REMOTE` when the received
/// span context is (`docs/PROTOCOL.md` sections 7 and 12).
///
/// Errors: `invalid_argument` for an unknown code, more than 4 candidates or
/// links, an unknown availability bit or NULL pointers. Nothing to free.
/// Thread safety: any thread.
///
/// # Safety
/// `parents` valid for `parent_count` reads (or NULL with 0), `links` for
/// `link_count`; `out` writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn tw_choose(
    parents: *const u32,
    parent_count: usize,
    links: *const u32,
    link_count: usize,
    available: u32,
    out: *mut u32,
) -> *mut TwError {
    // SAFETY: NULL or writable.
    unsafe { zero(out) };
    guard(|| {
        // SAFETY: caller guarantees.
        let (p, np) = unsafe { read_codes(parents, parent_count, ParentSource::Remote) }?;
        // SAFETY: caller guarantees.
        let (l, nl) = unsafe { read_codes(links, link_count, LinkSource::Connection) }?;
        let applied = model::choose(&p[..np], &l[..nl], available_from_bits(available)?);
        // SAFETY: caller guarantee.
        unsafe { put(out, pack_applied(applied)) }
    })
}
