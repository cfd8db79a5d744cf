//! Trace context in the WebSocket opening handshake, and the negotiation of
//! envelopes (docs/PROTOCOL.md section 3).
//!
//! The client's upgrade request carries `traceparent`, `tracestate` and
//! `baggage` headers and a session id ([`SESSION_HEADER`]). Browsers cannot
//! set headers on a WebSocket, so a server also reads the same names from the
//! request URI's query string, at lower precedence.
//!
//! Envelopes are negotiated as WebSocket subprotocols, the one response
//! value every client (a browser included) can read: the client offers
//! tokens such as `tracewire.v1.json-binary` ([`ClientHandshake::subprotocols`]),
//! the server selects one ([`ServerHandshake::subprotocol`]), and both use
//! exactly what the selected token names. An application's own subprotocol
//! is composed into the token (`tracewire.v1.json+mcp`) and handed back to
//! the application by name ([`Negotiated::app_protocol`]).
//!
//! ```
//! use tracewire::handshake::{AppProtocols, ClientHandshake, Envelopes, ServerHandshake};
//! let client = ClientHandshake::new(Envelopes::ALL);
//! let offer = client.subprotocols().join(", ");
//! assert_eq!(offer, "tracewire.v1.json-binary, tracewire.v1.json, tracewire.v1.binary");
//! let request = vec![
//!     ("traceparent".to_owned(), "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01".to_owned()),
//!     ("sec-websocket-protocol".to_owned(), offer),
//! ];
//! let hs = ServerHandshake::from_request(&request, None, Envelopes::ALL, &AppProtocols::default());
//! assert!(hs.context.traceparent.is_some());
//! assert_eq!(hs.subprotocol.as_deref(), Some("tracewire.v1.json-binary"));
//! assert_eq!(client.negotiated(hs.subprotocol.as_deref()).envelopes, Envelopes::ALL);
//! ```

use crate::context::{ExtractIssue, TraceContext};
use crate::error::InvalidArgument;
use crate::limits;
use std::borrow::Cow;

/// The longest valid session id.
const MAX_SESSION_ID_LEN: usize = 128;

/// The W3C Trace Context header carrying the sending span.
pub const TRACEPARENT: &str = "traceparent";
/// The W3C Trace Context header carrying vendor state.
pub const TRACESTATE: &str = "tracestate";
/// The W3C Baggage header.
pub const BAGGAGE: &str = "baggage";
/// Request: the subprotocols the client offers. Response: the one the server selected.
pub const SUBPROTOCOL_HEADER: &str = "sec-websocket-protocol";
/// The start of every tracewire subprotocol token: the protocol and its version.
pub const SUBPROTOCOL_PREFIX: &str = "tracewire.v1.";
/// The id both peers record as `websocket.session.id` (chosen by the client).
pub const SESSION_HEADER: &str = "tracewire-session";

/// Read access to a set of headers (names compared case-insensitively).
pub trait HeaderSource {
    /// Calls `f` with each value of header `name`, in order.
    fn for_each_value<'a>(&'a self, name: &str, f: &mut dyn FnMut(&'a str));
}

/// Write access to a set of headers.
pub trait HeaderSink {
    /// Sets header `name` (lowercase) to `value`, replacing earlier values.
    fn set(&mut self, name: &'static str, value: &str);
}

impl HeaderSource for http::HeaderMap {
    fn for_each_value<'a>(&'a self, name: &str, f: &mut dyn FnMut(&'a str)) {
        for v in self.get_all(name) {
            // Values that are not visible ASCII cannot hold a valid context.
            if let Ok(v) = v.to_str() {
                f(v);
            }
        }
    }
}

impl HeaderSink for http::HeaderMap {
    fn set(&mut self, name: &'static str, value: &str) {
        // Every value we write is visible ASCII (traceparent, tracestate and
        // percent-encoded baggage), so conversion cannot fail in practice.
        if let Ok(v) = http::HeaderValue::from_str(value) {
            self.insert(http::header::HeaderName::from_static(name), v);
        }
    }
}

impl<K: AsRef<str>, V: AsRef<str>> HeaderSource for [(K, V)] {
    fn for_each_value<'a>(&'a self, name: &str, f: &mut dyn FnMut(&'a str)) {
        for (k, v) in self {
            if k.as_ref().eq_ignore_ascii_case(name) {
                f(v.as_ref());
            }
        }
    }
}

impl<K: AsRef<str>, V: AsRef<str>> HeaderSource for Vec<(K, V)> {
    fn for_each_value<'a>(&'a self, name: &str, f: &mut dyn FnMut(&'a str)) {
        self.as_slice().for_each_value(name, f)
    }
}

impl HeaderSink for Vec<(String, String)> {
    fn set(&mut self, name: &'static str, value: &str) {
        self.retain(|(k, _)| !k.eq_ignore_ascii_case(name));
        self.push((name.to_owned(), value.to_owned()));
    }
}

/// Writes `ctx` as `traceparent` / `tracestate` / `baggage` headers (each only
/// when there is something to write).
pub fn inject(ctx: &TraceContext, headers: &mut (impl HeaderSink + ?Sized)) {
    if let Some(tp) = &ctx.traceparent {
        headers.set(TRACEPARENT, &tp.to_string());
        if !ctx.tracestate.is_empty() {
            headers.set(TRACESTATE, &ctx.tracestate.to_header());
        }
    }
    if !ctx.baggage.is_empty() {
        headers.set(BAGGAGE, &ctx.baggage.to_header());
    }
}

/// Reads a context from request headers, then from the query string.
///
/// The `traceparent` comes from the headers when present there, else from
/// the query; its `tracestate` always comes from the same place. `baggage`
/// comes from the headers when present there, else from the query. Nothing
/// fails: what was ignored, and why, is in the returned issues.
///
/// Each value is read within its budget ([`crate::limits`]): header lines
/// are collected only until their combined length passes it, and query
/// values are decoded only up to it, so a huge header or query string costs
/// no work or memory proportional to its size.
pub fn extract(
    headers: &(impl HeaderSource + ?Sized),
    query: Option<&str>,
) -> (TraceContext, Vec<ExtractIssue>) {
    let h = |name, budget| {
        let mut values: Vec<Cow<'_, str>> = Vec::new();
        let mut total = 0usize;
        headers.for_each_value(name, &mut |v| {
            // Once past the budget the parser rejects or cuts the value
            // anyway; one line past it is enough to show that.
            if total <= budget {
                total = total.saturating_add(v.len() + 1);
                values.push(Cow::Borrowed(v));
            }
        });
        values
    };
    let q = |name, budget| {
        query
            .map(|q| {
                query_values_within(q, name, budget)
                    .into_iter()
                    .map(Cow::Owned)
                    .collect()
            })
            .unwrap_or_default()
    };
    // Two traceparent lines are already an error.
    let tp_budget = 2 * limits::TRACEPARENT_MAX_LEN;
    let (mut traceparent, mut tracestate) = (
        h(TRACEPARENT, tp_budget),
        h(TRACESTATE, limits::TRACESTATE_MAX_RAW),
    );
    if traceparent.is_empty() {
        (traceparent, tracestate) = (
            q(TRACEPARENT, tp_budget),
            q(TRACESTATE, limits::TRACESTATE_MAX_RAW),
        );
    }
    let mut baggage = h(BAGGAGE, limits::BAGGAGE_MAX_RAW);
    if baggage.is_empty() {
        baggage = q(BAGGAGE, limits::BAGGAGE_MAX_RAW);
    }
    TraceContext::from_header_values(&traceparent, &tracestate, &baggage)
}

/// The decoded values of every query parameter named `name`, parsed as
/// WHATWG `application/x-www-form-urlencoded` (what `URLSearchParams` does):
/// `+` is a space, `%XX` a byte, a `%` not followed by two hex digits is
/// kept literally, and bytes that are not UTF-8 become U+FFFD. A leading `?`
/// is ignored.
///
/// This reads every value whole; the handshake itself reads query values
/// within their budgets (see [`extract`]).
pub fn query_values(query: &str, name: &str) -> Vec<String> {
    query_values_within(query, name, usize::MAX)
}

/// Like [`query_values`], but reads values only while their combined decoded
/// length is within `budget` (one more value, cut, shows it was passed):
/// each value is decoded up to 4 bytes past what is left of the budget, and
/// what follows is not read.
fn query_values_within(query: &str, name: &str, budget: usize) -> Vec<String> {
    let query = query.strip_prefix('?').unwrap_or(query);
    let mut out = Vec::new();
    let mut total = 0usize;
    for pair in query.split('&') {
        if total > budget {
            break;
        }
        let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
        // Decoding shrinks a key at most threefold (`%XX` to one byte): a
        // key longer than three times `name` cannot be it, and is not decoded.
        if k.len() > 3 * name.len() || form_decode(k, usize::MAX) != name {
            continue;
        }
        let cap = budget.saturating_sub(total).saturating_add(4);
        let v = form_decode(v, cap);
        total = total.saturating_add(v.len() + 1);
        out.push(v);
    }
    out
}

/// Decodes one WHATWG `application/x-www-form-urlencoded` name or value,
/// keeping the first `cap` bytes (and at most 3 more, to end on a character
/// boundary); the rest is not read.
fn form_decode(s: &str, cap: usize) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len().min(cap.saturating_add(4)));
    let mut cut = false;
    let mut i = 0;
    while i < b.len() {
        if out.len() >= cap {
            // Over the budget: the value is cut and its parser will refuse
            // or cut it; the rest is not read.
            cut = true;
            break;
        }
        let byte = match b[i] {
            b'+' => b' ',
            b'%' => match (
                b.get(i + 1).and_then(hex_digit),
                b.get(i + 2).and_then(hex_digit),
            ) {
                (Some(hi), Some(lo)) => {
                    i += 2;
                    hi << 4 | lo
                }
                // Not an escape: WHATWG keeps the `%` as it is.
                _ => b'%',
            },
            c => c,
        };
        out.push(byte);
        i += 1;
    }
    if cut {
        // Cut inside a character: drop its start rather than make it U+FFFD.
        let tail = match std::str::from_utf8(&out) {
            Err(e) if e.error_len().is_none() => out.len() - e.valid_up_to(),
            _ => 0,
        };
        out.truncate(out.len() - tail);
    }
    match String::from_utf8(out) {
        Ok(s) => s,
        // WHATWG's "UTF-8 decode without BOM": each maximal invalid
        // subsequence becomes one U+FFFD, as `from_utf8_lossy` does.
        Err(e) => String::from_utf8_lossy(e.as_bytes()).into_owned(),
    }
}

/// The value of one ASCII hex digit.
fn hex_digit(c: &u8) -> Option<u8> {
    char::from(*c).to_digit(16).map(|d| d as u8)
}

/// A set of envelope formats, as offered by a client or accepted by a server.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct Envelopes {
    /// The JSON envelope on text frames (token `json`).
    pub json: bool,
    /// The binary envelope on binary frames (token `binary`).
    pub binary: bool,
}

impl Envelopes {
    /// No envelopes: context travels only in the handshake.
    pub const NONE: Envelopes = Envelopes {
        json: false,
        binary: false,
    };
    /// Both formats.
    pub const ALL: Envelopes = Envelopes {
        json: true,
        binary: true,
    };

    /// Formats are in both sets.
    pub fn intersect(self, other: Envelopes) -> Envelopes {
        Envelopes {
            json: self.json && other.json,
            binary: self.binary && other.binary,
        }
    }

    /// Formats are in either set.
    pub fn union(self, other: Envelopes) -> Envelopes {
        Envelopes {
            json: self.json || other.json,
            binary: self.binary || other.binary,
        }
    }

    /// Whether the set is empty.
    pub fn is_empty(self) -> bool {
        !self.json && !self.binary
    }

    /// Whether every format of `self` is in `other`.
    pub fn is_subset(self, other: Envelopes) -> bool {
        self.intersect(other) == self
    }

    /// The name of a non-empty set in a subprotocol token.
    fn token_name(self) -> Option<&'static str> {
        match (self.json, self.binary) {
            (true, true) => Some("json-binary"),
            (true, false) => Some("json"),
            (false, true) => Some("binary"),
            (false, false) => None,
        }
    }

    /// The set a token names; `None` for a name this version does not know.
    fn from_token_name(name: &str) -> Option<Envelopes> {
        match name {
            "json-binary" => Some(Envelopes::ALL),
            "json" => Some(Envelopes {
                json: true,
                binary: false,
            }),
            "binary" => Some(Envelopes {
                json: false,
                binary: true,
            }),
            _ => None,
        }
    }

    /// The non-empty subsets of the set, most capable first: what a client
    /// offers.
    fn offer_order(self) -> impl Iterator<Item = Envelopes> {
        let json = Envelopes {
            json: true,
            binary: false,
        };
        let binary = Envelopes {
            json: false,
            binary: true,
        };
        [Envelopes::ALL, json, binary]
            .into_iter()
            .filter(move |e| e.is_subset(self))
    }
}

/// The application's own WebSocket subprotocols (`mcp`,
/// `graphql-transport-ws`, ...), in order of preference. Each is an RFC 7230
/// token that does not start with `tracewire.`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Default)]
pub struct AppProtocols(Vec<String>);

impl AppProtocols {
    /// Checks and keeps `protocols`.
    ///
    /// # Errors
    /// [`InvalidArgument`] for a name that is empty, not a token (RFC 6455
    /// 4.1: subprotocols are tokens), or that starts with `tracewire.`.
    pub fn new<I, S>(protocols: I) -> Result<AppProtocols, InvalidArgument>
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        let protocols: Vec<String> = protocols.into_iter().map(Into::into).collect();
        for p in &protocols {
            if !crate::baggage::is_token(p) {
                return Err(InvalidArgument(
                    "a subprotocol is a non-empty token (RFC 7230 tchar characters)",
                ));
            }
            if p.starts_with("tracewire.") {
                return Err(InvalidArgument(
                    "subprotocols starting with `tracewire.` are tracewire's own",
                ));
            }
        }
        Ok(AppProtocols(protocols))
    }

    fn contains(&self, name: &str) -> bool {
        self.0.iter().any(|p| p == name)
    }
}

/// What the selected subprotocol means for both peers.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Negotiated {
    /// The envelopes both peers use (none when no tracewire token was selected).
    pub envelopes: Envelopes,
    /// The application's subprotocol, by its own name (`mcp`), when one was
    /// selected, alone or composed with a tracewire token.
    pub app_protocol: Option<String>,
}

/// The subprotocol token for `envelopes` (not empty) composed with `app`:
/// `tracewire.v1.<envelopes>[+<app>]`.
fn subprotocol_token(envelopes: Envelopes, app: Option<&str>) -> Option<String> {
    let name = envelopes.token_name()?;
    Some(match app {
        Some(app) => format!("{SUBPROTOCOL_PREFIX}{name}+{app}"),
        None => format!("{SUBPROTOCOL_PREFIX}{name}"),
    })
}

/// Reads a tracewire token: the envelopes it names and the application
/// protocol composed into it. `None` for anything else, including tokens of
/// another version or with envelope names this version does not know.
fn parse_subprotocol_token(token: &str) -> Option<(Envelopes, Option<&str>)> {
    let rest = token.strip_prefix(SUBPROTOCOL_PREFIX)?;
    // Envelope names hold no `+`, so the first one starts the app protocol
    // (which may itself contain `+`).
    let (name, app) = match rest.split_once('+') {
        Some((name, app)) if !app.is_empty() => (name, Some(app)),
        Some(_) => return None,
        None => (rest, None),
    };
    Some((Envelopes::from_token_name(name)?, app))
}

/// What the token `selected` means for a peer that offered `offered` with
/// `apps`: a token that peer could not have offered means nothing.
fn meaning(selected: &str, offered: Envelopes, apps: &AppProtocols) -> Option<Negotiated> {
    match parse_subprotocol_token(selected) {
        Some((envelopes, app)) => {
            let app_ok = app.is_none_or(|a| apps.contains(a));
            (envelopes.is_subset(offered) && app_ok).then(|| Negotiated {
                envelopes,
                app_protocol: app.map(str::to_owned),
            })
        }
        None => apps.contains(selected).then(|| Negotiated {
            envelopes: Envelopes::NONE,
            app_protocol: Some(selected.to_owned()),
        }),
    }
}

/// What a server learns from an upgrade request, and what it answers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServerHandshake {
    /// The client's context (empty when none was sent or it was invalid).
    pub context: TraceContext,
    /// What was ignored while extracting, and why.
    pub issues: Vec<ExtractIssue>,
    /// The envelopes both sides will use: those of the selected token.
    pub envelopes: Envelopes,
    /// The application's subprotocol the client and the application agree on.
    pub app_protocol: Option<String>,
    /// The subprotocol to answer in `Sec-WebSocket-Protocol` (exactly as the
    /// client offered it), or `None` to answer none.
    pub subprotocol: Option<String>,
    /// The client's session id, or a new one when the client sent none.
    pub session_id: String,
}

impl ServerHandshake {
    /// Reads an upgrade request's headers and query string, and selects the
    /// subprotocol: the first the client offered (`Sec-WebSocket-Protocol`,
    /// all lines, in order) that is a tracewire token whose envelopes are all
    /// in `supported` and whose application protocol, if any, is in `apps`,
    /// or that is one of `apps`.
    pub fn from_request(
        headers: &(impl HeaderSource + ?Sized),
        query: Option<&str>,
        supported: Envelopes,
        apps: &AppProtocols,
    ) -> ServerHandshake {
        let (context, issues) = extract(headers, query);
        let mut selected: Option<(&str, Negotiated)> = None;
        // Scanned in place, nothing collected: the HTTP server bounds the
        // header, and the work is linear in it.
        headers.for_each_value(SUBPROTOCOL_HEADER, &mut |line| {
            if selected.is_none() {
                selected = line
                    .split(',')
                    .map(str::trim)
                    .filter(|t| !t.is_empty())
                    .find_map(|t| meaning(t, supported, apps).map(|n| (t, n)));
            }
        });
        let (subprotocol, negotiated) = match selected {
            Some((token, n)) => (Some(token.to_owned()), n),
            None => (None, Negotiated::default()),
        };
        let mut session_id = None;
        headers.for_each_value(SESSION_HEADER, &mut |v| {
            // An over-long id is invalid: keep it empty rather than copy it.
            session_id.get_or_insert_with(|| {
                let v = v.trim();
                if v.len() <= MAX_SESSION_ID_LEN {
                    v.to_owned()
                } else {
                    String::new()
                }
            });
        });
        let session_id = session_id
            .or_else(|| {
                query.and_then(|q| {
                    query_values_within(q, SESSION_HEADER, MAX_SESSION_ID_LEN)
                        .into_iter()
                        .next()
                })
            })
            .filter(|s| valid_session_id(s))
            .unwrap_or_else(new_session_id);
        ServerHandshake {
            context,
            issues,
            envelopes: negotiated.envelopes,
            app_protocol: negotiated.app_protocol,
            subprotocol,
            session_id,
        }
    }

    /// Headers for the `101 Switching Protocols` response, for WebSocket
    /// libraries whose server does not select subprotocols itself.
    pub fn response_headers(&self) -> Vec<(&'static str, String)> {
        self.subprotocol
            .iter()
            .map(|s| (SUBPROTOCOL_HEADER, s.clone()))
            .collect()
    }
}

/// What a client sends in its upgrade request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClientHandshake {
    /// The envelopes offered.
    pub offered: Envelopes,
    /// The application's own subprotocols, offered with and without tracewire.
    pub apps: AppProtocols,
    /// The session id sent to the server.
    pub session_id: String,
}

impl ClientHandshake {
    /// A handshake offering `offered`, no application subprotocol, with a new
    /// session id.
    pub fn new(offered: Envelopes) -> ClientHandshake {
        ClientHandshake {
            offered,
            apps: AppProtocols::default(),
            session_id: new_session_id(),
        }
    }

    /// Offers the application's own subprotocols too.
    pub fn with_apps(mut self, apps: AppProtocols) -> ClientHandshake {
        self.apps = apps;
        self
    }

    /// Writes the context and the session id as request headers.
    /// The offer goes in [`subprotocols`](Self::subprotocols), which the
    /// WebSocket library sends (a browser sets no other header).
    pub fn request_headers(&self, ctx: &TraceContext, headers: &mut (impl HeaderSink + ?Sized)) {
        inject(ctx, headers);
        headers.set(SESSION_HEADER, &self.session_id);
    }

    /// The subprotocols to offer, most preferred first. Without application
    /// protocols: the tracewire tokens for the non-empty subsets of the
    /// offered envelopes, most capable first. With them: for each
    /// application protocol in order, those tokens composed with it
    /// (`tracewire.v1.json-binary+mcp`, ...) followed by the protocol
    /// itself, so a server that does not know tracewire still selects it.
    pub fn subprotocols(&self) -> Vec<String> {
        let offered = self.offered;
        let tokens = |app: Option<&str>| -> Vec<String> {
            offered
                .offer_order()
                .filter_map(|e| subprotocol_token(e, app))
                .collect()
        };
        if self.apps.0.is_empty() {
            return tokens(None);
        }
        let mut out = Vec::new();
        for app in &self.apps.0 {
            out.extend(tokens(Some(app)));
            out.push(app.clone());
        }
        out
    }

    /// What the server's selection (the response's `Sec-WebSocket-Protocol`,
    /// `None` when it selected none) means: the envelopes and application
    /// protocol it names. No selection, or one this client did not offer,
    /// means no envelopes.
    pub fn negotiated(&self, selected: Option<&str>) -> Negotiated {
        selected
            .map(str::trim)
            .filter(|s| self.subprotocols().iter().any(|t| t == s))
            .and_then(|s| meaning(s, self.offered, &self.apps))
            .unwrap_or_default()
    }
}

/// A session id is 1 to 128 visible ASCII characters.
fn valid_session_id(s: &str) -> bool {
    !s.is_empty() && s.len() <= 128 && s.bytes().all(|b| b.is_ascii_graphic())
}

/// A new random session id: 32 lowercase hex characters.
pub fn new_session_id() -> String {
    use std::hash::{BuildHasher, Hasher};
    use std::sync::atomic::{AtomicU64, Ordering};
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    // RandomState is seeded from the OS once per thread; mixing in a
    // process-wide counter and the clock makes every id distinct.
    let mut out = [0u8; 32];
    #[cfg(all(target_arch = "wasm32", target_os = "unknown"))]
    {
        // RandomState has no OS seed here: take the host's crypto instead.
        let mut random = [0u8; 16];
        if getrandom::fill(&mut random).is_ok() {
            crate::traceparent::encode_hex(&random, &mut out);
            return out.iter().map(|&c| char::from(c)).collect();
        }
    }
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    let now = crate::clock::SystemTime::now()
        .duration_since(crate::clock::UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or_default();
    for (i, half) in out.chunks_exact_mut(16).enumerate() {
        let mut h = std::collections::hash_map::RandomState::new().build_hasher();
        h.write_u64(n);
        h.write_u128(now);
        h.write_usize(i);
        crate::traceparent::encode_hex(&h.finish().to_be_bytes(), half);
    }
    out.iter().map(|&c| char::from(c)).collect()
}
