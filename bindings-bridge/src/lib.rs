//! # tracewire-bridge
//!
//! The one bridge layer between the [`tracewire`] core and its FFI adapters:
//! the C ABI (`bindings-go/capi`, for Go), JNI (`bindings-java/native`) and
//! pyo3 (`bindings-python`), and next wasm-bindgen. What every adapter needs
//! and must do the same way is written here once; an adapter only turns these
//! values into its target's types (a `TwError *`, a thrown
//! `TracewireException`, a Python exception). The bridging layer is not API:
//! nothing outside this repository depends on it, and it changes together
//! with the adapters and their Go, Java and Python readers.
//!
//! | module | what it owns |
//! |---|---|
//! | [`error`] | [`BridgeError`] (a core [`ErrorCode`] and a message) |
//! | [`guard`] | the panic guard ([`guard::catch`]): a panic becomes a `panic` error carrying the panic message; the test-only entry points |
//! | [`codes`] | the numeric code and the name of every enum that crosses FFI ([`Coded`]), decoded strictly |
//! | [`wire`] | the one byte format: attributes, span and close decisions, contexts |
//! | [`cache`] | the per-thread cache of header conversions ([`cache::Recent`]) |
//!
//! ## Enum codes
//!
//! Every enum crosses FFI as a small number (a `u8` in the byte format, a
//! `u32` in C structs and arguments) and, for Python, as a name. The tables
//! (see [`codes`]) are the contract; decoding an unknown number or name is an
//! `invalid_argument` error naming the enum, never a silent default.
//!
//! | enum | codes and names |
//! |---|---|
//! | `Model` | 0 `connection`, 1 `message` |
//! | `Role` | 0 `client`, 1 `server` |
//! | `MessageType` | 0 `text`, 1 `binary` |
//! | `SpanKind` | 0 `client`, 1 `server`, 2 `producer`, 3 `consumer`, 4 `internal` |
//! | `ParentSource` | 0 `remote`, 1 `ambient`, 2 `ambient_in_connection_trace`, 3 `connection` |
//! | `LinkSource` | 0 `connection`, 1 `remote` |
//! | `Parent` | 0 `remote`, 1 `ambient`, 2 `connection`, 3 `new_trace` |
//! | `BaggageSource` | 0 `remote`, 1 `ambient`, 2 `connection`, 3 `none` |
//! | `RemoteContext` | 0 `parent`, 1 `link`, 2 `ignore` |
//! | [`BaggagePolicyKind`] | 0 `keep_all`, 1 `allow_keys`, 2 `drop` (the keys of `allow_keys` beside it) |
//! | `StreamKind` | 0 `generic`, 1 `model_output` |
//! | [`DecodedKind`] | 0 `plain`, 1 `enveloped`, 2 `malformed` |
//! | [`ValueTag`] | 0 `string`, 1 `int`, 2 `float`, 3 `bool` |
//! | [`ModelEvent`] | 0 `open`, 1 `send`, 2 `receive`, 3 `close` |
//! | envelope set | a bit set: 1 JSON, 2 binary ([`envelopes_from_bits`]) |
//! | `Available` | a bit set in field order: 1 remote_has_span, 2 remote_has_baggage, 4 ambient_has_span, 8 ambient_in_connection_trace, 16 ambient_is_connection, 32 connection_has_span ([`available_from_bits`]) |
//! | `Applied` | one `u32`: bits 0-7 `Parent`, bits 8-15 `BaggageSource`, bit 16 link the connection span, bit 17 link the received span context ([`pack_applied`]) |
//!
//! The codes of the core's enums are their positions in the core's `ALL`
//! tables and the names their `as_str`, so the core is the one source.
//!
//! ## The byte format
//!
//! One format for everything that crosses FFI as bytes; [`wire`] has the
//! complete grammar. Every integer is **little-endian** (the order of every
//! target we build for, so readers compile to plain loads: Go
//! `binary.LittleEndian`, Java `ByteOrder.LITTLE_ENDIAN`, JS `DataView` with
//! `littleEndian = true`).
//!
//! ```text
//! u8          1 byte
//! u32, i32    4 bytes, little-endian (i32 two's complement)
//! i64         8 bytes, little-endian, two's complement
//! f64         8 bytes: the IEEE 754 binary64 bits as a little-endian u64
//! str         u32 n, then n bytes of UTF-8 (no terminator)
//! list<T>     u32 n, then n x T
//!
//! attributes      list<attribute>
//! attribute       str key, u8 tag, value by tag:
//!                   0 string  str
//!                   1 int     i64
//!                   2 float   f64
//!                   3 bool    u8 (0 false, 1 true; anything else is invalid)
//!                 an unknown tag makes the whole block invalid (its size
//!                 is unknown, so it cannot be skipped)
//! span decision   str name, u8 span kind, list<u8 parent source>,
//!                 list<u8 link source>, attributes
//! close decision  attributes, u8 is_error, u8 has_span,
//!                 span decision (only when has_span is 1)
//! target          str address (empty: unknown), i32 port (-1: unknown),
//!                 str path
//! event           str name, attributes
//! ```
//!
//! For example the attributes `[("a", Int(1)), ("b", String("x"))]` are
//!
//! ```
//! use tracewire::{KeyValue, Value};
//! let attrs = [KeyValue::new("a", Value::Int(1)), KeyValue::new("b", "x")];
//! assert_eq!(
//!     tracewire_bridge::wire::attributes_to_vec(&attrs),
//!     [
//!         2, 0, 0, 0, // two attributes
//!         1, 0, 0, 0, b'a', 1, 1, 0, 0, 0, 0, 0, 0, 0, // "a", int, 1
//!         1, 0, 0, 0, b'b', 0, 1, 0, 0, 0, b'x', // "b", string, "x"
//!     ]
//! );
//! ```
//!
//! The C ABI carries a span decision as a `repr(C)` struct whose
//! `attributes` field holds an `attributes` block; JNI carries the whole
//! decision in its output buffer. Both are written by [`wire::Writer`].

// Input-dependent unwraps are not allowed; tests may unwrap.
#![warn(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

pub mod cache;
pub mod codes;
pub mod error;
pub mod guard;
pub mod wire;

pub use codes::{
    AVAILABLE_BITS, BaggagePolicyKind, Coded, DecodedKind, ENVELOPE_BINARY, ENVELOPE_JSON,
    ModelEvent, ValueTag, available_from_bits, envelopes_from_bits, envelopes_to_bits,
    pack_applied,
};
pub use error::{BridgeError, CoreError, Result};
pub use tracewire::ErrorCode;
