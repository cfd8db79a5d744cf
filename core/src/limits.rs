//! Size budgets: how much of an untrusted input is read, checked before any
//! parsing or allocation proportional to the input.
//!
//! Every decoder in this crate holds to these numbers, so a peer can make it
//! do at most a bounded amount of work and allocate at most a small multiple
//! of the budget, however large its header, query string, frame or carrier.
//! The bindings apply the same numbers because they call the same code;
//! `docs/PROTOCOL.md` ("Limits") gives the table with the W3C figures each
//! budget comes from.
//!
//! | input | budget | over budget |
//! |---|---|---|
//! | `traceparent` (any version) | [`TRACEPARENT_MAX_LEN`] | invalid (`invalid_traceparent`): a new trace |
//! | `tracestate`, all lines combined | [`TRACESTATE_MAX_RAW`] | ignored (`invalid_tracestate`), the `traceparent` is kept |
//! | `baggage`, all lines combined | [`BAGGAGE_MAX_RAW`] | members beyond it are dropped unread, no error |
//! | properties of one baggage member | [`BAGGAGE_MAX_PROPERTIES`] | the member does not fit: it and the members after it are dropped |
//! | a JSON envelope member value | the budget of its header | unescaped only up to the budget, then as above |
//! | a JSON member name | the longest name looked for | not unescaped, cannot match |
//! | a query parameter value | the budget of its header | decoded only up to the budget, then as above |
//! | `tracewire-session` (header or query) | 128 characters | a new id; the value is not copied |
//! | a queue carrier | [`CARRIER_MAX_LEN`] | `invalid_envelope` |
//! | a WebSocket message / frame (`ws`) | [`WS_MAX_MESSAGE_SIZE`] / [`WS_MAX_FRAME_SIZE`] | the connection fails with a capacity error; nothing is buffered |
//!
//! The caches of the bindings (pure conversions of header bytes, see
//! `docs/ARCHITECTURE.md`, "Caches") are bounded by [`CACHE_ENTRIES`],
//! [`CACHE_SHARED_SLOTS`] and [`CACHE_MAX_KEY_BYTES`].
//!
//! The binary envelope needs no budget of its own: its declared lengths are
//! 16-bit, are checked against the frame before anything is read, and its
//! values then go through the header budgets.

use std::time::Duration;

/// The longest `traceparent` read, in bytes. Version `00` is exactly 55;
/// W3C lets a future version append fields after a `-`, without a limit.
/// 256 leaves room for several more fields while bounding the work.
pub const TRACEPARENT_MAX_LEN: usize = crate::traceparent::MAX_LEN;

/// The most `tracestate` list-members (W3C Trace Context Level 2, 3.3.1.1).
pub const TRACESTATE_MAX_MEMBERS: usize = crate::tracestate::MAX_MEMBERS;

/// The longest raw `tracestate`, all header lines combined (one byte counted
/// per line separator), in bytes. The longest valid list without optional
/// whitespace is 32 members of a 256-character key, `=` and a 256-character
/// value, with 31 commas: 16,447 bytes. The budget adds about 1 KiB for
/// optional whitespace and empty members. W3C Level 2 (3.3.1.5) only asks
/// that 512 characters be propagated; anything longer than this budget cannot
/// be a valid list without padding, and is ignored like any invalid one.
pub const TRACESTATE_MAX_RAW: usize = crate::tracestate::MAX_RAW_LEN;

/// The most baggage members kept (W3C Baggage, 3.3: "at least 64").
pub const BAGGAGE_MAX_MEMBERS: usize = crate::baggage::MAX_MEMBERS;

/// The most bytes of serialised baggage kept (W3C Baggage, 3.3: "at least
/// 8192 bytes").
pub const BAGGAGE_MAX_BYTES: usize = crate::baggage::MAX_BYTES;

/// The longest raw `baggage` read, all header lines combined (one byte
/// counted per line separator), in bytes: twice the 8192 bytes W3C asks to be
/// propagated, so a full 8192-byte header still fits with optional
/// whitespace, empty members and duplicates around it. Only whole members
/// that end within the budget are read; the rest could never fit the 8192
/// serialised bytes, and are dropped as W3C allows ("MUST NOT propagate any
/// partial list-members").
pub const BAGGAGE_MAX_RAW: usize = crate::baggage::MAX_RAW_BYTES;

/// The most properties one baggage member may carry. W3C sets no number;
/// OpenTelemetry keeps a member's metadata as one opaque string and the
/// examples in the recommendation carry one or two. 16 is far above any use we
/// know of and bounds the per-member vector (64 members x 16 properties).
pub const BAGGAGE_MAX_PROPERTIES: usize = crate::baggage::MAX_PROPERTIES;

/// The longest queue carrier ([`crate::TraceContext::from_carrier`]): magic,
/// version, length, flags, the span context, and a tracestate and a baggage of their
/// full raw budgets with their 2-byte lengths.
pub const CARRIER_MAX_LEN: usize = 7 + 25 + 2 + TRACESTATE_MAX_RAW + 2 + BAGGAGE_MAX_RAW;

/// Default largest WebSocket message accepted (`ws`), in bytes: 1 MiB. A chat
/// or voice gateway moves JSON turns of a few KiB, token deltas of bytes and
/// audio chunks of 0.6 to 16 KiB (20 to 500 ms of 16 kHz 16-bit PCM; Opus is
/// ten times smaller); 1 MiB leaves two orders of magnitude of headroom for a
/// long transcript or tool result, and caps what one message costs the
/// receiver (tungstenite's default, 64 MiB, let one peer hold gigabytes).
pub const WS_MAX_MESSAGE_SIZE: usize = 1 << 20;

/// Default largest WebSocket frame accepted (`ws`), in bytes: 1 MiB, equal to
/// the message limit. Browsers and most clients send a message as one frame,
/// so a smaller frame limit would reject messages the message limit allows;
/// the frame length is checked from its header, before its payload is read.
pub const WS_MAX_FRAME_SIZE: usize = WS_MAX_MESSAGE_SIZE;

/// Default write buffer size (`ws`): 128 KiB, tungstenite's own. Frames are
/// gathered up to this size before a write to the socket.
pub const WS_WRITE_BUFFER_SIZE: usize = 128 * 1024;

/// Default most bytes queued for writing (`ws`): 4 MiB. It only fills when
/// the socket does not take data (a slow or stalled peer); past it a send
/// fails with `WriteBufferFull` instead of growing without bound (tungstenite
/// has no limit by default). It must hold the write buffer plus one message;
/// 4 MiB holds several messages of the 1 MiB a tracewire peer accepts.
pub const WS_MAX_WRITE_BUFFER_SIZE: usize = 4 << 20;

/// Default longest opening handshake (`ws`): 10 s, from the start of
/// `connect` (TCP connect included) or `accept` until the upgrade completes.
/// tungstenite bounds the request's size (64 KiB, 124 headers) but not its
/// duration, so a peer that trickles a request would hold a task forever;
/// 10 s covers slow mobile links several times over.
pub const WS_HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

/// The largest opening handshake request a server reads, request line and
/// headers together: 64 KiB, what tungstenite allows (`ws`). It holds the
/// budgets of `tracestate` and `baggage` (section 11) with room for cookies
/// and tokens; Go's `net/http` admits 1 MiB by default, which a server sets
/// lower with this number (`http.Server.MaxHeaderBytes`).
pub const WS_HANDSHAKE_MAX_REQUEST_BYTES: usize = 64 * 1024;

/// Entries one cache keeps per thread: the most recently used, the least
/// recently used dropped first. A sender repeats one tracestate and baggage
/// for every message of a request or stream, and a thread serves a few
/// requests at a time; 8 holds those, and a linear scan of 8 keys costs less
/// than one hash. Each binding's caches of pure conversions of header bytes
/// (docs/ARCHITECTURE.md, "Caches") follow this.
pub const CACHE_ENTRIES: usize = 8;

/// Slots of a cache shared by all threads, for a language without
/// thread-local storage (Go): a direct-mapped table (the slot is a hash of
/// the key; a new entry replaces the slot's), read with one atomic load and
/// no lock. 256 slots keep the hit rate of many concurrent requests while
/// staying a few KiB per cache.
pub const CACHE_SHARED_SLOTS: usize = 256;

/// The longest key (the input bytes: a header value or a record section)
/// a cache keeps, in bytes: longer inputs are converted every time, so one
/// cache holds at most its entries times (1 KiB + the converted value).
/// 1 KiB holds a 512-character tracestate with room to spare and a typical
/// baggage; the rare larger value costs one conversion, as without a cache.
pub const CACHE_MAX_KEY_BYTES: usize = 1024;
