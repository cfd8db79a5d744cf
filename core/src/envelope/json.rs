//! The JSON envelope (protocol v1, `docs/PROTOCOL.md` section 4): one
//! *envelope object* in a JSON text frame, at a configured member path
//! (default: the top-level member `"tracewire"`), holding `traceparent`,
//! `tracestate` and `baggage` members, each a JSON string. In MCP mode
//! ([`JsonEnvelope::mcp`]) the envelope object is `params._meta` of requests
//! and notifications and `result._meta` of results, and batches are read
//! and written message by message.
//!
//! The frame must be strictly well-formed JSON (RFC 8259): a frame that is
//! not carries no envelope and takes none. Duplicate member names count as
//! `JSON.parse` reads them: the last occurrence wins. Neither direction
//! builds a tree: the scanner validates and skips values, and keeps only the
//! envelope's three values (each cut a few bytes past its header's budget).
//!
//! ```
//! use tracewire::envelope::{json::JsonEnvelope, Decoded};
//! use tracewire::TraceContext;
//! let ctx = TraceContext {
//!     traceparent: Some("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01".parse().unwrap()),
//!     ..Default::default()
//! };
//! let env = JsonEnvelope::default();
//! let frame = env.inject(br#"{"text":"hi","baggage":"mine"}"#, &ctx).unwrap();
//! assert_eq!(
//!     frame,
//!     br#"{"tracewire":{"traceparent":"00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"},"text":"hi","baggage":"mine"}"#
//! );
//! let Decoded::Enveloped(got, payload) = env.extract(&frame) else { panic!() };
//! assert_eq!(got.traceparent, ctx.traceparent);
//! assert!(got.baggage.is_empty());
//! // Stripped by default: the application's own members, untouched.
//! assert_eq!(&*payload, br#"{"text":"hi","baggage":"mine"}"#);
//! ```

use super::{Decoded, EnvelopeError};
use crate::context::TraceContext;
use crate::handshake::{BAGGAGE, TRACEPARENT, TRACESTATE};
use crate::limits;
use crate::traceparent::TraceParent;
use crate::{Baggage, TraceState};
use std::borrow::Cow;

/// Nesting deeper than this is not scanned (the frame is then not JSON to us).
const MAX_DEPTH: usize = 128;
/// The longest envelope member name (`traceparent`).
const LONGEST_NAME: usize = 11;
/// How far past a value's budget it is unescaped: enough that a cut value is
/// still over the budget after ending on a character boundary.
const CAP_SLACK: usize = 4;

/// The member that holds the envelope object unless configured otherwise.
pub const DEFAULT_PATH: &str = "tracewire";

/// Whether a receiver removes the envelope members from the payload it hands
/// the application, unless configured otherwise. On in every language: an
/// application reads what its peer wrote, whether or not tracing is on.
pub const STRIP_BY_DEFAULT: bool = true;

/// Where the envelope object lives.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Placement {
    /// At a member path from the top-level object.
    Path(Vec<String>),
    /// MCP / JSON-RPC: `params._meta` of a request or notification,
    /// `result._meta` of a result; batches message by message.
    Mcp {
        request: Vec<String>,
        result: Vec<String>,
    },
}

/// Where the envelope object lives in a JSON frame, and how to read it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JsonEnvelope {
    placement: Placement,
    strip: bool,
}

impl Default for JsonEnvelope {
    /// The envelope object at the top-level member [`DEFAULT_PATH`],
    /// stripped on extract ([`STRIP_BY_DEFAULT`]).
    fn default() -> Self {
        JsonEnvelope {
            placement: Placement::Path(vec![DEFAULT_PATH.to_owned()]),
            strip: STRIP_BY_DEFAULT,
        }
    }
}

impl JsonEnvelope {
    /// The envelope object at a dot-separated member path, e.g.
    /// `trace.context`, stripped on extract. An empty path selects
    /// [`DEFAULT_PATH`].
    pub fn at_path(path: &str) -> Result<Self, crate::error::InvalidArgument> {
        if path.is_empty() {
            return Ok(Self::default());
        }
        let path: Vec<String> = path.split('.').map(str::to_owned).collect();
        if path.iter().any(String::is_empty) {
            return Err(crate::error::InvalidArgument(
                "a JSON member path has an empty component",
            ));
        }
        Ok(JsonEnvelope {
            placement: Placement::Path(path),
            strip: STRIP_BY_DEFAULT,
        })
    }

    /// MCP / JSON-RPC mode, stripped on extract: requests and notifications
    /// (a `method` member) carry the context in `params._meta`, results in
    /// `result._meta`, errors none; each message of a batch (a JSON array)
    /// is its own. A codec in this mode reads and writes text frames
    /// whatever the handshake negotiated, as third-party MCP peers do.
    pub fn mcp() -> Self {
        let path = |first: &str| vec![first.to_owned(), "_meta".to_owned()];
        JsonEnvelope {
            placement: Placement::Mcp {
                request: path("params"),
                result: path("result"),
            },
            strip: STRIP_BY_DEFAULT,
        }
    }

    /// Whether [`extract`](Self::extract) removes the envelope members from the
    /// payload it returns (costs one copy of the frame; on by default, see
    /// [`STRIP_BY_DEFAULT`]).
    pub fn strip_on_extract(mut self, strip: bool) -> Self {
        self.strip = strip;
        self
    }

    /// Whether [`extract`](Self::extract) strips the envelope members.
    pub fn strips_on_extract(&self) -> bool {
        self.strip
    }

    /// The member path of the envelope object, one component per element
    /// (empty in MCP mode, where it depends on the message).
    pub fn path(&self) -> &[String] {
        match &self.placement {
            Placement::Path(p) => p,
            Placement::Mcp { .. } => &[],
        }
    }

    /// Whether this is MCP / JSON-RPC mode ([`mcp`](Self::mcp)).
    pub fn is_mcp(&self) -> bool {
        matches!(self.placement, Placement::Mcp { .. })
    }

    /// Returns a copy of `frame` carrying the context.
    pub fn inject(&self, frame: &[u8], ctx: &TraceContext) -> Result<Vec<u8>, EnvelopeError> {
        let mut out = Vec::new();
        self.inject_into(frame, ctx, &mut out)?;
        Ok(out)
    }

    /// Like [`inject`](Self::inject), writing into `out` (cleared first) so a
    /// sender can reuse one buffer.
    ///
    /// Every `traceparent`, `tracestate` and `baggage` member of the envelope
    /// object goes (a forwarded frame's context is never paired with ours),
    /// then the context's members are written first in it; the envelope
    /// object and missing objects on the path are created as needed. The
    /// frame must be a complete, well-formed JSON object (in MCP mode, or an
    /// array of messages), else `NotJsonObject` and `out` is left empty.
    pub fn inject_into(
        &self,
        frame: &[u8],
        ctx: &TraceContext,
        out: &mut Vec<u8>,
    ) -> Result<(), EnvelopeError> {
        out.clear();
        let mut fresh = Vec::new();
        write_members(&mut fresh, ctx);
        out.reserve(frame.len() + fresh.len() + 32);
        let result = self.rewrite(frame, &fresh, out);
        if result.is_err() {
            out.clear();
        }
        result
    }

    /// Reads the envelope of a received text frame. Never fails: see [`Decoded`].
    ///
    /// A frame is enveloped when its envelope object has a `traceparent`
    /// member (in a batch: the first message whose envelope object has one).
    /// An invalid `tracestate` or `baggage` member is dropped, as it would be
    /// in a header.
    pub fn extract<'a>(&self, frame: &'a [u8]) -> Decoded<'a> {
        let key_cap = self.key_cap();
        let mut s = Scanner::new(frame);
        s.skip_ws();
        let first = match s.peek() {
            Some(b'{') => {
                let Ok(found) = self.scan_message(&mut s, key_cap) else {
                    return Decoded::Plain(frame);
                };
                s.skip_ws();
                if s.peek().is_some() {
                    return Decoded::Plain(frame);
                }
                found.into_envelope()
            }
            Some(b'[') if self.is_mcp() => match self.first_in_batch(&mut s, key_cap) {
                Ok(first) => first,
                Err(Invalid) => return Decoded::Plain(frame),
            },
            _ => return Decoded::Plain(frame),
        };
        let Some(envelope) = first else {
            return Decoded::Plain(frame);
        };
        let Some(traceparent) = envelope.traceparent.as_ref() else {
            return Decoded::Plain(frame);
        };
        let traceparent = match traceparent {
            MemberValue::String(v) => match TraceParent::parse(v) {
                Ok(tp) => tp,
                Err(e) => return Decoded::Malformed(e.into(), frame),
            },
            MemberValue::Other => {
                return Decoded::Malformed(EnvelopeError::NotAString(TRACEPARENT), frame);
            }
        };
        let string = |v: &Option<MemberValue<'_>>| match v {
            Some(MemberValue::String(v)) => Some(v.to_string()),
            _ => None,
        };
        let tracestate = string(&envelope.tracestate)
            .and_then(|v| TraceState::parse(&v).ok())
            .unwrap_or_default();
        let baggage = string(&envelope.baggage)
            .and_then(|v| Baggage::parse(&v).ok())
            .unwrap_or_default();
        let ctx = TraceContext {
            traceparent: Some(traceparent),
            tracestate,
            baggage,
            remote: true,
        };
        if !self.strip {
            return Decoded::Enveloped(ctx, Cow::Borrowed(frame));
        }
        // Stripping is injecting nothing: the same edit that removes stale
        // members before a send. The frame was scanned once already, so the
        // second pass cannot fail; if it did, the frame is delivered whole.
        let mut out = Vec::with_capacity(frame.len());
        let payload = match self.rewrite(frame, &[], &mut out) {
            Ok(()) => Cow::Owned(out),
            Err(_) => Cow::Borrowed(frame),
        };
        Decoded::Enveloped(ctx, payload)
    }

    /// The size of the application payload of a frame this envelope decoded,
    /// as `messaging.message.body.size` counts it: the payload handed over,
    /// less the W3C members left in it when not stripping (counted, not
    /// copied).
    pub fn payload_size(&self, decoded: &Decoded<'_>) -> usize {
        match decoded {
            Decoded::Enveloped(_, Cow::Borrowed(frame)) => {
                let mut stripped = Count(0);
                match self.rewrite(frame, &[], &mut stripped) {
                    Ok(()) => stripped.0,
                    Err(_) => frame.len(),
                }
            }
            other => other.payload().len(),
        }
    }

    /// The longest member name compared: longer names are not unescaped past it.
    fn key_cap(&self) -> usize {
        let longest = match &self.placement {
            Placement::Path(p) => p.iter().map(String::len).max().unwrap_or(0),
            // `params`, `result`, `method`, `_meta`.
            Placement::Mcp { .. } => 6,
        };
        longest.max(LONGEST_NAME) + CAP_SLACK
    }

    /// Scans one message (the scanner at its `{`): where its envelope is.
    fn scan_message<'a>(
        &'a self,
        s: &mut Scanner<'a>,
        key_cap: usize,
    ) -> Result<Found<'a>, Invalid> {
        s.pos += 1;
        match &self.placement {
            Placement::Path(path) => scan_object(s, path, key_cap),
            Placement::Mcp { request, result } => scan_mcp_message(s, request, result, key_cap),
        }
    }

    /// The envelope of the first message of a batch that has a
    /// `traceparent` member, scanning (and validating) the whole batch.
    fn first_in_batch<'a>(
        &'a self,
        s: &mut Scanner<'a>,
        key_cap: usize,
    ) -> Result<Option<EnvelopeBody<'a>>, Invalid> {
        let mut first = None;
        self.for_each_in_batch(s, key_cap, |found| {
            if first.is_none() {
                first = found
                    .into_envelope()
                    .filter(|envelope| envelope.traceparent.is_some());
            }
        })?;
        Ok(first)
    }

    /// Scans a batch (the scanner at its `[`) to its end, calling `each`
    /// with what each object element holds; other elements are skipped.
    fn for_each_in_batch<'a>(
        &'a self,
        s: &mut Scanner<'a>,
        key_cap: usize,
        mut each: impl FnMut(Found<'a>),
    ) -> Result<(), Invalid> {
        s.pos += 1;
        s.skip_ws();
        if !s.eat(b']') {
            loop {
                s.skip_ws();
                if s.peek() == Some(b'{') {
                    each(self.scan_message(s, key_cap)?);
                } else {
                    s.skip_value()?;
                }
                s.skip_ws();
                match s.next() {
                    Some(b',') => {}
                    Some(b']') => break,
                    _ => return Err(Invalid),
                }
            }
        }
        s.skip_ws();
        if s.peek().is_some() {
            return Err(Invalid);
        }
        Ok(())
    }

    /// Copies `frame` into `out` with every envelope object's W3C members
    /// replaced by `fresh` (rendered members; empty: only remove, and drop
    /// an envelope object left empty).
    fn rewrite(
        &self,
        frame: &[u8],
        fresh: &[u8],
        out: &mut impl Sink,
    ) -> Result<(), EnvelopeError> {
        let not_json =
            || EnvelopeError::NotJsonObject("the frame is not a well-formed JSON object");
        let key_cap = self.key_cap();
        let mut s = Scanner::new(frame);
        s.skip_ws();
        let mut w = Writer { frame, out, at: 0 };
        match s.peek() {
            Some(b'{') => {
                let found = self.scan_message(&mut s, key_cap).map_err(|_| not_json())?;
                s.skip_ws();
                if s.peek().is_some() {
                    return Err(not_json());
                }
                if let Found::Blocked = found {
                    return Err(EnvelopeError::NotJsonObject(
                        "a member on the envelope path is not an object",
                    ));
                }
                edit_message(&mut w, &found, fresh);
            }
            Some(b'[') if self.is_mcp() => {
                // Each message is edited as it is scanned; one that cannot
                // carry a context is left as it is.
                self.for_each_in_batch(&mut s, key_cap, |found| {
                    edit_message(&mut w, &found, fresh)
                })
                .map_err(|_| not_json())?;
            }
            _ => {
                return Err(EnvelopeError::NotJsonObject(if self.is_mcp() {
                    "the frame is not a JSON object or array"
                } else {
                    "the frame is not a JSON object"
                }));
            }
        }
        w.finish();
        Ok(())
    }
}

/// What a message's scan found on the way to its envelope object.
enum Found<'a> {
    /// The envelope object, and its member in the parent object.
    Envelope(EnvelopeBody<'a>, MemberSpan),
    /// As `Envelope`, after earlier members of the same name in the
    /// parent object, which an edit removes: a last-wins parser never read
    /// them, a first-wins one would read a stale context.
    EnvelopeAfterDuplicates {
        body: EnvelopeBody<'a>,
        span: MemberSpan,
        /// Just past the parent object's `{`.
        parent_open: usize,
        name: &'a str,
    },
    /// An object lacks the next member on the path: `names` are to be
    /// created first in it, at `at` (its first member, or just inside an
    /// empty one: whitespace stays where it was, so strip undoes it exactly).
    Missing {
        at: usize,
        empty: bool,
        names: &'a [String],
    },
    /// A member on the path is not an object.
    Blocked,
    /// The message carries no context (MCP: neither a request nor a result).
    None,
}

impl<'a> Found<'a> {
    fn into_envelope(self) -> Option<EnvelopeBody<'a>> {
        match self {
            Found::Envelope(body, _) | Found::EnvelopeAfterDuplicates { body, .. } => Some(body),
            _ => None,
        }
    }
}

/// A member's place in its object, to remove it with the right comma.
#[derive(Clone, Copy)]
struct MemberSpan {
    start: usize,
    end: usize,
    /// End of the previous member's value, if any.
    prev_end: Option<usize>,
    /// Start of the next member, if any.
    next_start: Option<usize>,
}

/// What an envelope object holds: its W3C members (the last occurrence of
/// each) and how many members of each kind.
struct EnvelopeBody<'a> {
    /// Just past the object's `{`.
    open: usize,
    w3c: usize,
    kept: usize,
    traceparent: Option<MemberValue<'a>>,
    tracestate: Option<MemberValue<'a>>,
    baggage: Option<MemberValue<'a>>,
}

enum MemberValue<'a> {
    String(Cow<'a, str>),
    Other,
}

/// A path lookup in progress: the last occurrence of the member followed.
enum Followed<'a> {
    Absent,
    Object(Found<'a>),
    NotObject,
}

/// With the scanner just past an object's `{`, scans its members to the
/// closing `}`, following `path` (not empty); the last occurrence of each
/// component counts.
fn scan_object<'a>(
    s: &mut Scanner<'a>,
    path: &'a [String],
    key_cap: usize,
) -> Result<Found<'a>, Invalid> {
    let open = s.pos;
    let mut followed = Followed::Absent;
    let mut occurrences = 0usize;
    let mut first_member = None;
    let mut prev_end = None;
    // The previous member was the envelope object itself (not an object on
    // the way to it: the member after that one belongs to another object).
    let mut after_envelope = false;
    members(s, key_cap, |s, start, key| {
        first_member.get_or_insert(start);
        if std::mem::take(&mut after_envelope)
            && let Followed::Object(Found::Envelope(_, span)) = &mut followed
        {
            span.next_start = Some(start);
        }
        let on_path = key.as_deref() == Some(path[0].as_str());
        occurrences += usize::from(on_path);
        if !on_path {
            s.skip_value()?;
        } else if s.peek() != Some(b'{') {
            s.skip_value()?;
            followed = Followed::NotObject;
        } else if path.len() == 1 {
            s.pos += 1;
            let body = scan_envelope(s)?;
            let span = MemberSpan {
                start,
                end: s.pos,
                prev_end,
                next_start: None,
            };
            followed = Followed::Object(Found::Envelope(body, span));
            after_envelope = true;
        } else {
            s.pos += 1;
            followed = Followed::Object(scan_object(s, &path[1..], key_cap)?);
        }
        prev_end = Some(s.pos);
        Ok(())
    })?;
    Ok(match followed {
        Followed::Absent => Found::Missing {
            at: first_member.unwrap_or(open),
            empty: first_member.is_none(),
            names: path,
        },
        Followed::Object(Found::Envelope(body, span)) if occurrences > 1 => {
            Found::EnvelopeAfterDuplicates {
                body,
                span,
                parent_open: open,
                name: &path[0],
            }
        }
        Followed::Object(found) => found,
        Followed::NotObject => Found::Blocked,
    })
}

/// An MCP message (the scanner just past its `{`): a request or
/// notification carries its envelope at `request`, a result at `result`.
fn scan_mcp_message<'a>(
    s: &mut Scanner<'a>,
    request: &'a [String],
    result: &'a [String],
    key_cap: usize,
) -> Result<Found<'a>, Invalid> {
    let open = s.pos;
    let mut first_member = None;
    let mut has_method = false;
    let (mut params, mut outcome) = (Followed::Absent, Followed::Absent);
    members(s, key_cap, |s, start, key| {
        first_member.get_or_insert(start);
        let slot = match key.as_deref() {
            Some("method") => {
                has_method = true;
                return s.skip_value();
            }
            Some(name) if name == request[0] => (&mut params, request),
            Some(name) if name == result[0] => (&mut outcome, result),
            _ => return s.skip_value(),
        };
        // The `_meta` objects hold the envelope: no comma bookkeeping needed
        // at this level, only inside them.
        *slot.0 = if s.peek() == Some(b'{') {
            s.pos += 1;
            Followed::Object(scan_object(s, &slot.1[1..], key_cap)?)
        } else {
            s.skip_value()?;
            Followed::NotObject
        };
        Ok(())
    })?;
    let (followed, path) = if has_method {
        (params, request)
    } else if !matches!(outcome, Followed::Absent) {
        (outcome, result)
    } else {
        return Ok(Found::None);
    };
    Ok(match followed {
        Followed::Absent => Found::Missing {
            at: first_member.unwrap_or(open),
            empty: first_member.is_none(),
            names: path,
        },
        Followed::Object(found) => found,
        Followed::NotObject => Found::Blocked,
    })
}

/// With the scanner just past an envelope object's `{`, reads its members
/// to the closing `}`.
fn scan_envelope<'a>(s: &mut Scanner<'a>) -> Result<EnvelopeBody<'a>, Invalid> {
    let mut body = EnvelopeBody {
        open: s.pos,
        w3c: 0,
        kept: 0,
        traceparent: None,
        tracestate: None,
        baggage: None,
    };
    members(s, LONGEST_NAME + CAP_SLACK, |s, _, key| {
        let (slot, budget) = match key.as_deref() {
            Some(TRACEPARENT) => (&mut body.traceparent, limits::TRACEPARENT_MAX_LEN),
            Some(TRACESTATE) => (&mut body.tracestate, limits::TRACESTATE_MAX_RAW),
            Some(BAGGAGE) => (&mut body.baggage, limits::BAGGAGE_MAX_RAW),
            _ => {
                body.kept += 1;
                return s.skip_value();
            }
        };
        body.w3c += 1;
        // Unescaped up to just past the value's budget, which its parser
        // then applies; never a copy of a huge member. The last one counts.
        *slot = Some(if s.peek() == Some(b'"') {
            MemberValue::String(s.string_capped(budget + CAP_SLACK)?)
        } else {
            s.skip_value()?;
            MemberValue::Other
        });
        Ok(())
    })?;
    Ok(body)
}

/// With the scanner just past an object's `{`, calls `member` for each
/// member with the scanner at its value, the index of its name's quote and
/// its name (unescaped up to `key_cap` bytes); `member` must consume the
/// value. Leaves the scanner past the closing `}`.
fn members<'a>(
    s: &mut Scanner<'a>,
    key_cap: usize,
    mut member: impl FnMut(&mut Scanner<'a>, usize, Option<Cow<'a, str>>) -> Result<(), Invalid>,
) -> Result<(), Invalid> {
    s.skip_ws();
    if s.eat(b'}') {
        return Ok(());
    }
    loop {
        s.skip_ws();
        let start = s.pos;
        let key = s.key(key_cap)?;
        s.skip_ws();
        if !s.eat(b':') {
            return Err(Invalid);
        }
        s.skip_ws();
        member(s, start, key)?;
        s.skip_ws();
        match s.next() {
            Some(b',') => {}
            Some(b'}') => return Ok(()),
            _ => return Err(Invalid),
        }
    }
}

/// Applies a message's edit: its envelope object's W3C members replaced by
/// `fresh`, or the objects on the path created to hold them.
fn edit_message<S: Sink>(w: &mut Writer<'_, S>, found: &Found<'_>, fresh: &[u8]) {
    match found {
        Found::Envelope(body, span) => match envelope_action(body, fresh) {
            Action::Edit => edit_envelope(w, body, fresh),
            Action::Remove => remove_member(w, span),
            Action::Keep => {}
        },
        Found::EnvelopeAfterDuplicates {
            body,
            span,
            parent_open,
            name,
        } => {
            let action = envelope_action(body, fresh);
            copy_object_without(
                w,
                *parent_open,
                name.len() + CAP_SLACK,
                |start, key| {
                    key == Some(*name) && (start != span.start || matches!(action, Action::Remove))
                },
                |w, start| {
                    if start == span.start && matches!(action, Action::Edit) {
                        edit_envelope(w, body, fresh);
                    }
                },
            );
        }
        Found::Missing { at, empty, names } if !fresh.is_empty() => {
            w.copy_to(*at);
            for name in *names {
                let mut quoted = Vec::with_capacity(name.len() + 4);
                quoted.push(b'"');
                write_escaped(&mut quoted, name.as_bytes());
                quoted.extend_from_slice(b"\":{");
                w.out.put(&quoted);
            }
            w.out.put(fresh);
            for _ in *names {
                w.out.put(b"}");
            }
            if !empty {
                w.out.put(b",");
            }
        }
        Found::Missing { .. } | Found::Blocked | Found::None => {}
    }
}

/// What becomes of an envelope object.
enum Action {
    /// Its W3C members replaced (or only removed), the rest kept.
    Edit,
    /// Removed whole: it held only W3C members and none are written.
    Remove,
    /// Left as it is: nothing to remove or write.
    Keep,
}

fn envelope_action(body: &EnvelopeBody<'_>, fresh: &[u8]) -> Action {
    if !fresh.is_empty() || (body.w3c > 0 && body.kept > 0) {
        Action::Edit
    } else if body.w3c > 0 {
        Action::Remove
    } else {
        Action::Keep
    }
}

/// Writes `fresh` first in the envelope object and drops its old W3C members.
fn edit_envelope<S: Sink>(w: &mut Writer<'_, S>, body: &EnvelopeBody<'_>, fresh: &[u8]) {
    if !fresh.is_empty() {
        // After the object's leading whitespace, which stays where it was.
        let mut s = Scanner::new(w.frame);
        s.pos = body.open;
        s.skip_ws();
        w.copy_to(s.pos);
        w.out.put(fresh);
        if body.kept > 0 {
            w.out.put(b",");
        }
    }
    if body.w3c > 0 {
        copy_object_without(
            w,
            body.open,
            LONGEST_NAME + CAP_SLACK,
            |_, key| key.is_some_and(is_envelope_name),
            |_, _| {},
        );
    }
}

/// Copies the (already scanned) object whose `{` ends just before `open`,
/// up to its `}`, without the members `remove` picks (by the index of the
/// name's quote and the name, unescaped up to `key_cap` bytes); `edit` runs
/// at the start of each kept member and may edit inside it. A removed member
/// goes with the comma before it, or with the one after it when no kept
/// member precedes it, so the object stays valid and the rest keeps its bytes.
fn copy_object_without<S: Sink>(
    w: &mut Writer<'_, S>,
    open: usize,
    key_cap: usize,
    mut remove: impl FnMut(usize, Option<&str>) -> bool,
    mut edit: impl FnMut(&mut Writer<'_, S>, usize),
) {
    let mut s = Scanner::new(w.frame);
    s.pos = open;
    let mut kept_before = false;
    let mut prev_end = open;
    let mut leading: Option<usize> = None;
    let scanned = members(&mut s, key_cap, |s, start, key| {
        if let Some(from) = leading.take() {
            w.copy_to(from);
            w.skip_to(start);
        }
        let removed = remove(start, key.as_deref());
        if !removed {
            edit(w, start);
        }
        s.skip_value()?;
        if !removed {
            kept_before = true;
        } else if kept_before {
            w.copy_to(prev_end);
            w.skip_to(s.pos);
        } else {
            leading = Some(start);
        }
        prev_end = s.pos;
        Ok(())
    });
    debug_assert!(scanned.is_ok(), "the object was scanned before");
    if let Some(from) = leading {
        w.copy_to(from);
        w.skip_to(prev_end);
    }
}

/// Removes a member from its object with one adjacent comma.
fn remove_member<S: Sink>(w: &mut Writer<'_, S>, span: &MemberSpan) {
    match (span.prev_end, span.next_start) {
        (Some(prev_end), _) => {
            w.copy_to(prev_end);
            w.skip_to(span.end);
        }
        (None, Some(next_start)) => {
            w.copy_to(span.start);
            w.skip_to(next_start);
        }
        (None, None) => {
            w.copy_to(span.start);
            w.skip_to(span.end);
        }
    }
}

/// Where an edited frame goes: a buffer, or only its length.
trait Sink {
    fn put(&mut self, bytes: &[u8]);
}

impl Sink for Vec<u8> {
    fn put(&mut self, bytes: &[u8]) {
        self.extend_from_slice(bytes);
    }
}

/// Counts the bytes of an edited frame without keeping them.
struct Count(usize);

impl Sink for Count {
    fn put(&mut self, bytes: &[u8]) {
        self.0 += bytes.len();
    }
}

/// Copies a frame into `out` with edits applied in increasing position.
struct Writer<'a, S: Sink> {
    frame: &'a [u8],
    out: &'a mut S,
    /// The next frame byte not yet copied or skipped.
    at: usize,
}

impl<S: Sink> Writer<'_, S> {
    fn copy_to(&mut self, pos: usize) {
        if pos > self.at {
            self.out.put(&self.frame[self.at..pos]);
            self.at = pos;
        }
    }

    fn skip_to(&mut self, pos: usize) {
        self.at = self.at.max(pos);
    }

    fn finish(mut self) {
        self.copy_to(self.frame.len());
    }
}

/// Writes `"traceparent":"...","tracestate":"...","baggage":"..."` (members
/// that would be empty are left out).
fn write_members(out: &mut Vec<u8>, ctx: &TraceContext) {
    let mut first = true;
    let mut member = |out: &mut Vec<u8>, name: &str, value: &[u8]| {
        if !first {
            out.push(b',');
        }
        first = false;
        out.push(b'"');
        out.extend_from_slice(name.as_bytes());
        out.extend_from_slice(b"\":\"");
        write_escaped(out, value);
        out.push(b'"');
    };
    if let Some(tp) = &ctx.traceparent {
        member(out, TRACEPARENT, &tp.encode());
        if !ctx.tracestate.is_empty() {
            member(out, TRACESTATE, ctx.tracestate.to_header().as_bytes());
        }
    }
    if !ctx.baggage.is_empty() {
        member(out, BAGGAGE, ctx.baggage.to_header().as_bytes());
    }
}

/// Writes UTF-8 `bytes` as the inside of a JSON string.
fn write_escaped(out: &mut Vec<u8>, bytes: &[u8]) {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    for &b in bytes {
        match b {
            b'"' => out.extend_from_slice(b"\\\""),
            b'\\' => out.extend_from_slice(b"\\\\"),
            0x00..=0x1f => {
                out.extend_from_slice(b"\\u00");
                out.push(HEX[usize::from(b >> 4)]);
                out.push(HEX[usize::from(b & 0xf)]);
            }
            _ => out.push(b),
        }
    }
}

fn is_envelope_name(key: &str) -> bool {
    key == TRACEPARENT || key == TRACESTATE || key == BAGGAGE
}

/// A forward-only reader over JSON bytes that validates everything it reads
/// against RFC 8259 (values it skips included).
struct Scanner<'a> {
    b: &'a [u8],
    pos: usize,
}

struct Invalid;

impl<'a> Scanner<'a> {
    fn new(b: &'a [u8]) -> Self {
        Scanner { b, pos: 0 }
    }

    fn peek(&self) -> Option<u8> {
        self.b.get(self.pos).copied()
    }

    fn next(&mut self) -> Option<u8> {
        let c = self.peek()?;
        self.pos += 1;
        Some(c)
    }

    fn eat(&mut self, c: u8) -> bool {
        if self.peek() == Some(c) {
            self.pos += 1;
            true
        } else {
            false
        }
    }

    fn skip_ws(&mut self) {
        while let Some(b' ' | b'\t' | b'\n' | b'\r') = self.peek() {
            self.pos += 1;
        }
    }

    /// Reads a string token, unescaping only if it holds escapes, and then
    /// keeping at most about `cap` bytes: a longer string comes back cut, still
    /// longer than `cap` (by 1 to 4 bytes, at a character boundary), so a
    /// caller comparing or parsing it sees it is over its budget. The whole
    /// token is validated; nothing proportional to it is allocated.
    fn string_capped(&mut self, cap: usize) -> Result<Cow<'a, str>, Invalid> {
        if !self.eat(b'"') {
            return Err(Invalid);
        }
        let start = self.pos;
        let (end, escaped) = self.string_end()?;
        let raw = &self.b[start..end];
        self.pos = end + 1;
        if escaped {
            Ok(Cow::Owned(unescape(raw, cap)))
        } else {
            // Validated as UTF-8 by `string_end`.
            std::str::from_utf8(raw)
                .map(Cow::Borrowed)
                .map_err(|_| Invalid)
        }
    }

    /// Reads a member name to compare with names of at most `cap` bytes: a
    /// longer name cannot match, and is not unescaped past that.
    fn key(&mut self, cap: usize) -> Result<Option<Cow<'a, str>>, Invalid> {
        if self.peek() != Some(b'"') {
            return Err(Invalid);
        }
        self.string_capped(cap).map(Some)
    }

    /// From just inside a string, the index of its closing quote and whether
    /// it contains escapes. Rejects raw control characters, unknown escapes,
    /// `\u` without four hex digits and bytes that are not UTF-8.
    fn string_end(&self) -> Result<(usize, bool), Invalid> {
        let mut i = self.pos;
        let mut escaped = false;
        let mut ascii = true;
        loop {
            let c = *self.b.get(i).ok_or(Invalid)?;
            match c {
                b'"' => break,
                b'\\' => {
                    escaped = true;
                    match self.b.get(i + 1) {
                        Some(b'"' | b'\\' | b'/' | b'b' | b'f' | b'n' | b'r' | b't') => i += 2,
                        Some(b'u') => {
                            let hex = self.b.get(i + 2..i + 6).ok_or(Invalid)?;
                            if !hex.iter().all(u8::is_ascii_hexdigit) {
                                return Err(Invalid);
                            }
                            i += 6;
                        }
                        _ => return Err(Invalid),
                    }
                }
                0x00..=0x1f => return Err(Invalid),
                0x80.. => {
                    ascii = false;
                    i += 1;
                }
                _ => i += 1,
            }
        }
        if !ascii && std::str::from_utf8(&self.b[self.pos..i]).is_err() {
            return Err(Invalid);
        }
        Ok((i, escaped))
    }

    /// Skips one JSON value of any type (the scanner at its first byte),
    /// without recursion: at most [`MAX_DEPTH`] nested containers.
    fn skip_value(&mut self) -> Result<(), Invalid> {
        // One bit per open container (1 = object); MAX_DEPTH bits.
        let mut stack: u128 = 0;
        let mut depth = 0usize;
        loop {
            // A value is expected here.
            self.skip_ws();
            match self.peek().ok_or(Invalid)? {
                c @ (b'{' | b'[') => {
                    self.pos += 1;
                    self.skip_ws();
                    let close = if c == b'{' { b'}' } else { b']' };
                    if !self.eat(close) {
                        if depth == MAX_DEPTH {
                            return Err(Invalid);
                        }
                        stack = (stack << 1) | u128::from(c == b'{');
                        depth += 1;
                        if c == b'{' {
                            self.member_name()?;
                        }
                        continue;
                    }
                }
                b'"' => {
                    self.pos += 1;
                    let (end, _) = self.string_end()?;
                    self.pos = end + 1;
                }
                b'-' | b'0'..=b'9' => self.number()?,
                b't' => self.literal(b"true")?,
                b'f' => self.literal(b"false")?,
                b'n' => self.literal(b"null")?,
                _ => return Err(Invalid),
            }
            // After a value: close containers until a comma opens the next.
            loop {
                if depth == 0 {
                    return Ok(());
                }
                self.skip_ws();
                let in_object = stack & 1 == 1;
                match self.next() {
                    Some(b',') => {
                        if in_object {
                            self.skip_ws();
                            self.member_name()?;
                        }
                        break;
                    }
                    Some(b'}') if in_object => {}
                    Some(b']') if !in_object => {}
                    _ => return Err(Invalid),
                }
                stack >>= 1;
                depth -= 1;
            }
        }
    }

    /// A member name and its `:` (the scanner at the name).
    fn member_name(&mut self) -> Result<(), Invalid> {
        if !self.eat(b'"') {
            return Err(Invalid);
        }
        let (end, _) = self.string_end()?;
        self.pos = end + 1;
        self.skip_ws();
        if self.eat(b':') { Ok(()) } else { Err(Invalid) }
    }

    /// `-? (0 | [1-9][0-9]*) (. [0-9]+)? ([eE] [+-]? [0-9]+)?`
    fn number(&mut self) -> Result<(), Invalid> {
        self.eat(b'-');
        match self.next() {
            Some(b'0') => {}
            Some(b'1'..=b'9') => self.digits(),
            _ => return Err(Invalid),
        }
        if self.eat(b'.') {
            self.one_or_more_digits()?;
        }
        if self.eat(b'e') || self.eat(b'E') {
            if !self.eat(b'+') {
                self.eat(b'-');
            }
            self.one_or_more_digits()?;
        }
        Ok(())
    }

    fn digits(&mut self) {
        while let Some(b'0'..=b'9') = self.peek() {
            self.pos += 1;
        }
    }

    fn one_or_more_digits(&mut self) -> Result<(), Invalid> {
        let start = self.pos;
        self.digits();
        if self.pos == start {
            Err(Invalid)
        } else {
            Ok(())
        }
    }

    fn literal(&mut self, word: &[u8]) -> Result<(), Invalid> {
        if self.b[self.pos..].starts_with(word) {
            self.pos += word.len();
            Ok(())
        } else {
            Err(Invalid)
        }
    }
}

/// Decodes the inside of a valid JSON string that contains escapes, keeping
/// the first `cap` bytes and at most 3 more to end on a character boundary;
/// the rest is not read. A lone surrogate escape becomes U+FFFD (as
/// `JSON.parse` keeps it, it cannot be UTF-8).
fn unescape(raw: &[u8], cap: usize) -> String {
    let mut out = Vec::with_capacity(raw.len().min(cap.saturating_add(4)));
    let mut i = 0;
    while i < raw.len() && out.len() < cap {
        let c = raw[i];
        if c != b'\\' {
            out.push(c);
            i += 1;
            continue;
        }
        // `string_end` checked every escape, so these reads are in bounds.
        let e = raw[i + 1];
        i += 2;
        let simple = match e {
            b'b' => 0x08,
            b'f' => 0x0c,
            b'n' => b'\n',
            b'r' => b'\r',
            b't' => b'\t',
            b'u' => {
                let hi = hex4(&raw[i..i + 4]);
                i += 4;
                let low = raw
                    .get(i..i + 6)
                    .filter(|r| r.starts_with(b"\\u"))
                    .map(|r| hex4(&r[2..]))
                    .filter(|lo| (0xdc00..0xe000).contains(lo));
                let cp = match low {
                    Some(lo) if (0xd800..0xdc00).contains(&hi) => {
                        i += 6;
                        0x10000 + ((hi - 0xd800) << 10) + (lo - 0xdc00)
                    }
                    _ => hi,
                };
                let ch = char::from_u32(cp).unwrap_or(char::REPLACEMENT_CHARACTER);
                let mut buf = [0u8; 4];
                out.extend_from_slice(ch.encode_utf8(&mut buf).as_bytes());
                continue;
            }
            // `"`, `\` and `/` stand for themselves.
            other => other,
        };
        out.push(simple);
    }
    match String::from_utf8(out) {
        Ok(s) => s,
        // Cut inside a raw multi-byte character: drop its start (at most 3
        // bytes, which the caller's slack allows for).
        Err(e) => {
            let valid = e.utf8_error().valid_up_to();
            let mut out = e.into_bytes();
            out.truncate(valid);
            String::from_utf8(out).unwrap_or_default()
        }
    }
}

/// Four hex digits (validated by the scanner).
fn hex4(b: &[u8]) -> u32 {
    b.iter().fold(0, |acc, &c| {
        acc * 16 + (c as char).to_digit(16).unwrap_or(0)
    })
}
