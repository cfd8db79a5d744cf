//! The W3C `tracestate` header ([Trace Context Level 2, section 3.3]).
//!
//! A `tracestate` is an ordered list of at most [`MAX_MEMBERS`] vendor
//! entries `key=value`, the most recently updated first.
//!
//! # Parsing rules
//!
//! - Several header lines are combined as if joined by `,`
//!   ([RFC 9110 section 5.3]); spaces and tabs around list-members are
//!   optional whitespace, and empty or whitespace-only list-members are
//!   skipped ([section 3.3.1]).
//! - Keys follow the Level 2 grammar
//!   `key = ( lcalpha / DIGIT ) 0*255 ( keychar )`, where `keychar` is
//!   `a`-`z`, `0`-`9`, `_`, `-`, `*`, `/` or `@` ([section 3.3.1.3.1]). This is
//!   the grammar of the current recommendation and of the official test
//!   harness: it accepts every Level 1 key (`tenant@system` included) and also
//!   keys such as `1vendor`, `foo@` or `a@b@c`, up to 256 characters in all.
//! - A value is 1 to 256 printable ASCII characters other than `,` and `=`,
//!   not ending in a space. Leading spaces belong to the value; trailing
//!   spaces and tabs are optional whitespace ([section 3.3.1.3.2]).
//! - More than 32 non-empty list-members is an error.
//! - A raw value longer than [`MAX_RAW_LEN`] bytes, all lines combined (one
//!   byte counted per line separator), is an error found before anything is
//!   parsed ([`TraceStateError::TooLong`]): no valid list is that long without
//!   padding ([`crate::limits::TRACESTATE_MAX_RAW`]).
//! - A duplicate key keeps its first (leftmost, most recently updated) entry
//!   and later ones are dropped. Uniqueness is the sender's duty and the
//!   recommendation lets a receiver discard duplicates; the official harness
//!   expects the `tracestate` to survive, so this is not an error.
//! - Any other malformed list-member makes the whole parse fail with a
//!   [`TraceStateError`] naming the problem. The extraction layer then treats
//!   the `tracestate` as empty while keeping a valid `traceparent`, as the
//!   recommendation requires ([section 3.3]).
//!
//! Errors never quote the offending input: it is untrusted and may end up in
//! logs.
//!
//! # Serialising
//!
//! [`TraceState::to_header`] joins entries with `,` and no whitespace, and
//! keeps the result within [`MAX_HEADER_LEN`] characters by removing whole
//! entries only: first entries longer than [`LONG_ENTRY_LEN`] characters,
//! rightmost first, until the header fits; then any entries from the right
//! ([section 3.3.1.5]).
//!
//! ```
//! use tracewire::TraceState;
//! let mut ts = TraceState::parse_lines(["rojo=00f067aa0ba902b7, ", "congo=t61rcWkgMzE"]).expect("valid");
//! ts.insert("congo", "ucfJifl5GOE").expect("valid");
//! assert_eq!(ts.to_header(), "congo=ucfJifl5GOE,rojo=00f067aa0ba902b7");
//! assert!(TraceState::parse("Rojo=1").is_err());
//! ```
//!
//! [Trace Context Level 2, section 3.3]: https://www.w3.org/TR/trace-context-2/#tracestate-header
//! [section 3.3]: https://www.w3.org/TR/trace-context-2/#tracestate-header
//! [section 3.3.1]: https://www.w3.org/TR/trace-context-2/#tracestate-header-field-values
//! [section 3.3.1.3.1]: https://www.w3.org/TR/trace-context-2/#key
//! [section 3.3.1.3.2]: https://www.w3.org/TR/trace-context-2/#value
//! [section 3.3.1.5]: https://www.w3.org/TR/trace-context-2/#tracestate-limits
//! [RFC 9110 section 5.3]: https://www.rfc-editor.org/rfc/rfc9110#name-field-order

use crate::error::ErrorCode;
use std::fmt;

/// The most list-members a `tracestate` may hold.
pub const MAX_MEMBERS: usize = 32;
/// The longest key, in characters.
pub const MAX_KEY_LEN: usize = 256;
/// The longest value, in characters.
pub const MAX_VALUE_LEN: usize = 256;
/// The longest header [`TraceState::to_header`] produces, in characters
/// (the length every vendor should propagate).
pub const MAX_HEADER_LEN: usize = 512;
/// Entries (`key=value`) longer than this are the first removed when the
/// header must be truncated.
pub const LONG_ENTRY_LEN: usize = 128;
/// The longest raw value parsed, all lines combined: see
/// [`crate::limits::TRACESTATE_MAX_RAW`].
pub const MAX_RAW_LEN: usize = 17 * 1024;

/// Why a `tracestate` value, key or value was rejected.
///
/// No variant quotes the input, which is untrusted.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum TraceStateError {
    /// A non-empty list-member has no `=` between key and value.
    #[error("tracestate list-member is not of the form key=value")]
    Invalid,
    /// A key is empty, does not start with `a`-`z` or `0`-`9`, or holds a
    /// character other than `a`-`z`, `0`-`9`, `_`, `-`, `*`, `/`, `@`.
    #[error(
        "tracestate key must start with a-z or 0-9 and contain only a-z, 0-9, '_', '-', '*', '/', '@'"
    )]
    InvalidKey,
    /// A key is longer than [`MAX_KEY_LEN`].
    #[error("tracestate key is {0} characters long, the limit is {MAX_KEY_LEN}")]
    KeyTooLong(usize),
    /// A value is empty (or only spaces).
    #[error("tracestate value is empty")]
    EmptyValue,
    /// A value holds a character outside 0x20-0x7E, a `,` or `=`, or ends in a space.
    #[error(
        "tracestate value must be printable ASCII without ',' or '=' and must not end with a space"
    )]
    InvalidValue,
    /// A value is longer than [`MAX_VALUE_LEN`].
    #[error("tracestate value is {0} characters long, the limit is {MAX_VALUE_LEN}")]
    ValueTooLong(usize),
    /// The header holds more than [`MAX_MEMBERS`] list-members.
    #[error("tracestate has more than {MAX_MEMBERS} list-members")]
    TooManyMembers,
    /// The raw header, all lines combined, is longer than [`MAX_RAW_LEN`]
    /// bytes; it was not parsed.
    #[error("tracestate is longer than {MAX_RAW_LEN} bytes")]
    TooLong,
}

impl TraceStateError {
    /// The stable error code: always [`ErrorCode::InvalidTraceState`].
    pub const fn code(&self) -> ErrorCode {
        ErrorCode::InvalidTraceState
    }
}

/// An ordered list of vendor entries, most recently updated first.
///
/// Every key is unique and valid, every value valid, and there are at most
/// [`MAX_MEMBERS`] entries: the constructors and mutators keep it so.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct TraceState {
    /// The entries as `key=value` joined by `,`, most recent first: one
    /// allocation however many entries, and already the header when short.
    buf: String,
    /// Where each entry lies in `buf`.
    entries: Vec<Entry>,
}

/// One entry of a [`TraceState`]: `buf[start..eq]` is the key and
/// `buf[eq + 1..end]` the value.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Entry {
    start: usize,
    eq: usize,
    end: usize,
}

impl fmt::Debug for TraceState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_list().entries(self.iter()).finish()
    }
}

impl TraceState {
    /// An empty tracestate.
    pub fn new() -> Self {
        Self::default()
    }

    /// Parses one header value. See the [module docs](self) for the rules.
    ///
    /// ```
    /// use tracewire::TraceState;
    /// let ts = TraceState::parse("rojo=00f067aa0ba902b7,,fw529a3039@dt= x").expect("valid");
    /// assert_eq!(ts.get("fw529a3039@dt"), Some(" x"));
    /// assert_eq!(ts.len(), 2);
    /// ```
    pub fn parse(value: &str) -> Result<TraceState, TraceStateError> {
        Self::parse_lines([value])
    }

    /// Parses several header lines, combined as if joined by commas.
    ///
    /// No lines, or only empty ones, give an empty tracestate.
    pub fn parse_lines<'a, I: IntoIterator<Item = &'a str>>(
        lines: I,
    ) -> Result<TraceState, TraceStateError> {
        let mut ts = TraceState::new();
        let mut members = 0usize;
        let mut raw = 0usize;
        for (n, line) in lines.into_iter().enumerate() {
            // Checked before the line is read, so the work and the buffer
            // stay within the budget whatever the input.
            raw = raw.saturating_add(line.len() + usize::from(n > 0));
            if raw > MAX_RAW_LEN {
                return Err(TraceStateError::TooLong);
            }
            ts.buf.reserve(line.len());
            for raw in line.split(',') {
                // Trimming the member also strips the value's trailing OWS,
                // while spaces after '=' stay part of the value.
                let member = trim_ows(raw);
                if member.is_empty() {
                    continue;
                }
                members += 1;
                if members > MAX_MEMBERS {
                    return Err(TraceStateError::TooManyMembers);
                }
                let (key, value) = member.split_once('=').ok_or(TraceStateError::Invalid)?;
                validate_key(key)?;
                validate_value(value)?;
                // Leftmost is the most recent update, so a later duplicate loses.
                if ts.position(key).is_none() {
                    ts.push(key, value);
                }
            }
        }
        Ok(ts)
    }

    /// Builds a tracestate from entries in order (most recent first), with
    /// the same rules as parsing: keys and values are validated, a later
    /// duplicate is dropped, and more than [`MAX_MEMBERS`] is an error.
    pub fn from_entries<'a, I>(entries: I) -> Result<TraceState, TraceStateError>
    where
        I: IntoIterator<Item = (&'a str, &'a str)>,
    {
        let mut ts = TraceState::new();
        for (n, (key, value)) in entries.into_iter().enumerate() {
            if n == MAX_MEMBERS {
                return Err(TraceStateError::TooManyMembers);
            }
            validate_key(key)?;
            validate_value(value)?;
            if ts.position(key).is_none() {
                ts.push(key, value);
            }
        }
        Ok(ts)
    }

    /// Appends an entry known to be valid and new.
    fn push(&mut self, key: &str, value: &str) {
        if !self.buf.is_empty() {
            self.buf.push(',');
        }
        let start = self.buf.len();
        self.buf.push_str(key);
        let eq = self.buf.len();
        self.buf.push('=');
        self.buf.push_str(value);
        self.entries.push(Entry {
            start,
            eq,
            end: self.buf.len(),
        });
    }

    fn key(&self, e: &Entry) -> &str {
        &self.buf[e.start..e.eq]
    }

    fn value(&self, e: &Entry) -> &str {
        &self.buf[e.eq + 1..e.end]
    }

    fn member(&self, e: &Entry) -> &str {
        &self.buf[e.start..e.end]
    }

    fn position(&self, key: &str) -> Option<usize> {
        self.entries.iter().position(|e| self.key(e) == key)
    }

    /// Rebuilds the list from `first` (if any) followed by the entries that
    /// `keep` selects, at most [`MAX_MEMBERS`] in all.
    fn rebuild(&mut self, first: Option<(&str, &str)>, keep: impl Fn(usize) -> bool) {
        let mut out = TraceState::new();
        out.buf
            .reserve(self.buf.len() + first.map_or(0, |(k, v)| k.len() + v.len() + 2));
        if let Some((k, v)) = first {
            out.push(k, v);
        }
        for (i, e) in self.entries.iter().enumerate() {
            if out.entries.len() == MAX_MEMBERS {
                break;
            }
            if keep(i) {
                out.push(self.key(e), self.value(e));
            }
        }
        *self = out;
    }

    /// The value for `key`.
    pub fn get(&self, key: &str) -> Option<&str> {
        self.position(key).map(|i| self.value(&self.entries[i]))
    }

    /// Sets `key` to `value` and moves the entry to the front, as an update
    /// must ([section 3.5]).
    ///
    /// When a new key would make more than [`MAX_MEMBERS`] entries, the
    /// rightmost entry is dropped. On error the tracestate is unchanged.
    ///
    /// ```
    /// use tracewire::TraceState;
    /// let mut ts = TraceState::parse("a=1,b=2").expect("valid");
    /// ts.insert("b", "3").expect("valid");
    /// assert_eq!(ts.to_header(), "b=3,a=1");
    /// assert!(ts.insert("b", "no,commas").is_err());
    /// ```
    ///
    /// [section 3.5]: https://www.w3.org/TR/trace-context-2/#mutating-the-tracestate-field
    pub fn insert(&mut self, key: &str, value: &str) -> Result<(), TraceStateError> {
        validate_key(key)?;
        validate_value(value)?;
        let old = self.position(key);
        self.rebuild(Some((key, value)), |i| Some(i) != old);
        Ok(())
    }

    /// Removes `key`, returning its value.
    pub fn remove(&mut self, key: &str) -> Option<String> {
        let i = self.position(key)?;
        let value = self.value(&self.entries[i]).to_owned();
        self.rebuild(None, |j| j != i);
        Some(value)
    }

    /// The entries in order, most recently updated first.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &str)> {
        self.entries.iter().map(|e| (self.key(e), self.value(e)))
    }

    /// The number of entries.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Whether there are no entries.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// The header value: entries joined by `,` without whitespace, truncated
    /// to at most [`MAX_HEADER_LEN`] characters by removing whole entries
    /// (see the [module docs](self)). Empty when there are no entries.
    ///
    /// ```
    /// use tracewire::TraceState;
    /// let long = "x".repeat(200);
    /// let mut ts = TraceState::new();
    /// ts.insert("big", &long).expect("valid");
    /// for i in 0..30 { ts.insert(&format!("k{i}"), "0123456789").expect("valid"); }
    /// // 30 short entries fit in 512 characters once the long one is gone.
    /// assert!(ts.to_header().len() <= 512);
    /// assert!(!ts.to_header().contains("big="));
    /// ```
    pub fn to_header(&self) -> String {
        if self.buf.len() <= MAX_HEADER_LEN {
            return self.buf.clone();
        }
        let lens: Vec<usize> = self.entries.iter().map(|e| e.end - e.start).collect();
        let mut keep = vec![true; lens.len()];
        let mut sum: usize = lens.iter().sum();
        let mut count = lens.len();
        let header_len = |sum: usize, count: usize| sum + count.saturating_sub(1);

        // Long entries go first, rightmost first, then anything from the right.
        for only_long in [true, false] {
            for i in (0..lens.len()).rev() {
                if header_len(sum, count) <= MAX_HEADER_LEN {
                    break;
                }
                if keep[i] && (!only_long || lens[i] > LONG_ENTRY_LEN) {
                    keep[i] = false;
                    sum -= lens[i];
                    count -= 1;
                }
            }
        }

        let mut out = String::with_capacity(header_len(sum, count));
        for (e, _) in self.entries.iter().zip(&keep).filter(|(_, k)| **k) {
            if !out.is_empty() {
                out.push(',');
            }
            out.push_str(self.member(e));
        }
        out
    }
}

impl fmt::Display for TraceState {
    /// Writes [`TraceState::to_header`].
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_header())
    }
}

impl std::str::FromStr for TraceState {
    type Err = TraceStateError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        TraceState::parse(s)
    }
}

/// Strips optional whitespace (spaces and tabs, RFC 9110 `OWS`).
fn trim_ows(s: &str) -> &str {
    s.trim_matches([' ', '\t'])
}

/// Checks a key against `( lcalpha / DIGIT ) 0*255 ( keychar )`.
fn validate_key(key: &str) -> Result<(), TraceStateError> {
    let b = key.as_bytes();
    if b.len() > MAX_KEY_LEN {
        return Err(TraceStateError::KeyTooLong(b.len()));
    }
    let Some((&first, rest)) = b.split_first() else {
        return Err(TraceStateError::InvalidKey);
    };
    let first_ok = first.is_ascii_lowercase() || first.is_ascii_digit();
    let rest_ok = rest.iter().all(|&c| {
        c.is_ascii_lowercase()
            || c.is_ascii_digit()
            || matches!(c, b'_' | b'-' | b'*' | b'/' | b'@')
    });
    if first_ok && rest_ok {
        Ok(())
    } else {
        Err(TraceStateError::InvalidKey)
    }
}

/// Checks a value against `0*255(chr) nblk-chr`.
fn validate_value(value: &str) -> Result<(), TraceStateError> {
    let b = value.as_bytes();
    if b.is_empty() {
        return Err(TraceStateError::EmptyValue);
    }
    let chr_ok = b
        .iter()
        .all(|&c| (0x20..=0x7e).contains(&c) && c != b',' && c != b'=');
    if !chr_ok || b.last() == Some(&b' ') {
        return Err(TraceStateError::InvalidValue);
    }
    if b.len() > MAX_VALUE_LEN {
        return Err(TraceStateError::ValueTooLong(b.len()));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn key_grammar() {
        assert!(validate_key("a").is_ok());
        assert!(validate_key("0a").is_ok());
        assert!(validate_key(&"z".repeat(256)).is_ok());
        assert_eq!(
            validate_key(&"z".repeat(257)),
            Err(TraceStateError::KeyTooLong(257))
        );
        assert_eq!(validate_key(""), Err(TraceStateError::InvalidKey));
        assert_eq!(validate_key("@a"), Err(TraceStateError::InvalidKey));
        assert_eq!(validate_key("A"), Err(TraceStateError::InvalidKey));
        assert_eq!(validate_key("é"), Err(TraceStateError::InvalidKey));
    }

    #[test]
    fn value_grammar() {
        assert!(validate_value(" a").is_ok());
        assert_eq!(validate_value("a "), Err(TraceStateError::InvalidValue));
        assert_eq!(validate_value("a\tb"), Err(TraceStateError::InvalidValue));
        assert_eq!(validate_value(""), Err(TraceStateError::EmptyValue));
        assert_eq!(
            validate_value(&"v".repeat(257)),
            Err(TraceStateError::ValueTooLong(257))
        );
    }

    #[test]
    fn insert_drops_rightmost_when_full() {
        let mut ts = TraceState::new();
        for i in 0..MAX_MEMBERS {
            ts.insert(&format!("k{i}"), "v").expect("valid");
        }
        ts.insert("new", "v").expect("valid");
        assert_eq!(ts.len(), MAX_MEMBERS);
        assert_eq!(ts.get("k0"), None);
        assert_eq!(ts.iter().next(), Some(("new", "v")));
    }

    #[test]
    fn error_codes() {
        assert_eq!(
            TraceStateError::TooManyMembers.code(),
            ErrorCode::InvalidTraceState
        );
    }
}
