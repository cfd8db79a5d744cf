//! W3C Baggage: the `baggage` header ([W3C Baggage, section 3]).
//!
//! Baggage is an ordered list of members `key=value`, each with optional
//! properties `;key` or `;key=value`.
//!
//! # Parsing rules
//!
//! - Several header lines are combined as if joined by `,`
//!   ([section 3.2.1]); spaces and tabs (`OWS`) around members, keys, values,
//!   `=` and `;` are ignored; empty or whitespace-only members (stray commas,
//!   empty lines) are skipped.
//! - A key (of a member or a property) is an RFC 7230 `token`
//!   ([section 3.2.1.2]). Keys are kept exactly as sent: a `%` in a key is a
//!   `tchar`, never an escape.
//! - A value is `*baggage-octet` and may be empty or hold `=`. It is
//!   percent-decoded ([section 3.2.1.3]); a `%` not followed by two hex digits
//!   is a literal `%` (several SDKs write it raw; so are `"` and `\`), and decoded bytes that are not UTF-8 become U+FFFD, one per
//!   maximal ill-formed subsequence (the Unicode "substitution of maximal
//!   subparts" practice), as the recommendation requires.
//! - Property values of the `key=value` form are percent-decoded and
//!   re-encoded the same way as member values ([section 3.2.1.4], as revised
//!   in 2025). A property without `=` is a bare key and is never decoded.
//! - A duplicate key: the last occurrence's value and properties win, in the
//!   position of the first occurrence (parsing behaves like
//!   [`Baggage::insert_member`] applied to each member in turn).
//! - Any malformed member makes the whole parse fail with a [`BaggageError`]
//!   naming the problem; the extraction layer then drops the whole baggage.
//! - Raw budget, before any parsing: only whole members that end within the
//!   first [`MAX_RAW_BYTES`] bytes of the combined header (one byte counted per
//!   line separator) are read; the rest is dropped unread, not an error, and is
//!   not validated. So parsing costs at most that many bytes of work and
//!   allocation, however long the input ([`crate::limits`]).
//! - Limits ([section 3.3]): members are kept in order while the result has at
//!   most [`MAX_MEMBERS`] members, each member at most [`MAX_PROPERTIES`]
//!   properties, and its canonical serialisation ([`Baggage::to_header`]) at
//!   most [`MAX_BYTES`] bytes; the first member that does not fit and all
//!   after it are dropped, not an error. Because the limits are measured on
//!   the canonical form, `to_header` of parsed baggage never drops anything
//!   further.
//!
//! Errors never quote the offending input: it is untrusted and may end up in
//! logs.
//!
//! # Serialising
//!
//! [`Baggage::to_header`] writes `key=value;pkey=pvalue;pkey2` members joined
//! by `,` without whitespace. Values and property values are percent-encoded:
//! every byte outside `baggage-octet`, `%` itself and `=`, becomes `%XX` with
//! uppercase hex (so a space is `%20`, `,` is `%2C`, `;` is `%3B`, `=` is
//! `%3D`: legal raw, but several propagators split a member at every `=`). Whole members are dropped from the end so the result stays
//! within [`MAX_MEMBERS`] members and [`MAX_BYTES`] bytes (and stop at a
//! member with more than [`MAX_PROPERTIES`] properties).
//!
//! # Cost
//!
//! [`Baggage::get`], [`insert`](Baggage::insert),
//! [`insert_member`](Baggage::insert_member) and [`remove`](Baggage::remove)
//! take amortised constant time however many members are held (a key index
//! past a few members; removal leaves a hole that is compacted once holes
//! outnumber members), so building baggage of `n` members is linear in `n`.
//!
//! ```
//! use tracewire::Baggage;
//! let mut bag = Baggage::parse_lines(["userId=Am%C3%A9lie", "serverNode = DF%2028;prod"]).unwrap();
//! assert_eq!(bag.get("userId"), Some("Amélie"));
//! bag.insert("isProduction", "false").unwrap();
//! assert_eq!(
//!     bag.to_header(),
//!     "userId=Am%C3%A9lie,serverNode=DF%2028;prod,isProduction=false"
//! );
//! ```
//!
//! [W3C Baggage, section 3]: https://www.w3.org/TR/baggage/#baggage-http-header-format
//! [section 3.2.1]: https://www.w3.org/TR/baggage/#definition
//! [section 3.2.1.2]: https://www.w3.org/TR/baggage/#key
//! [section 3.2.1.3]: https://www.w3.org/TR/baggage/#value
//! [section 3.2.1.4]: https://www.w3.org/TR/baggage/#property
//! [section 3.3]: https://www.w3.org/TR/baggage/#limits

use crate::error::ErrorCode;
use std::collections::HashMap;
use std::fmt;
use std::fmt::Write as _;

/// The most members kept when parsing and written by [`Baggage::to_header`].
pub const MAX_MEMBERS: usize = 64;
/// The most bytes of header written by [`Baggage::to_header`] (and kept, in
/// canonical form, when parsing).
pub const MAX_BYTES: usize = 8192;
/// The most bytes of raw header read when parsing, all lines combined: see
/// [`crate::limits::BAGGAGE_MAX_RAW`].
pub const MAX_RAW_BYTES: usize = 2 * MAX_BYTES;
/// The most properties a member may carry and still be kept or written: see
/// [`crate::limits::BAGGAGE_MAX_PROPERTIES`].
pub const MAX_PROPERTIES: usize = 16;
/// Past this many members, lookups go through a key index.
const INDEX_AFTER: usize = 16;

/// Why a `baggage` value, key or member was rejected.
///
/// No variant quotes the input, which is untrusted.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum BaggageError {
    /// A non-empty list-member has no `=` between key and value.
    #[error("baggage list-member is not of the form key=value")]
    Invalid,
    /// A member key is empty or not an RFC 7230 token.
    #[error("baggage key is empty or not an RFC 7230 token")]
    InvalidKey,
    /// A member value holds a character outside `baggage-octet` (a space,
    /// tab or control character inside it, or a non-ASCII character).
    #[error("baggage value holds a character that must be percent-encoded")]
    InvalidValue,
    /// A property key is empty (e.g. a stray `;`) or not an RFC 7230 token.
    #[error("baggage property key is empty or not an RFC 7230 token")]
    InvalidPropertyKey,
    /// A property value holds a character outside `baggage-octet`.
    #[error("baggage property value holds a character that must be percent-encoded")]
    InvalidPropertyValue,
}

impl BaggageError {
    /// The stable error code: always [`ErrorCode::InvalidBaggage`].
    pub const fn code(&self) -> ErrorCode {
        ErrorCode::InvalidBaggage
    }
}

/// One baggage member: a key, a decoded value, and its properties.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BaggageMember {
    /// The key, an RFC 7230 token.
    pub key: String,
    /// The value, percent-decoded; any string (it is encoded on output).
    pub value: String,
    /// Properties in order, each a token key and, for the `key=value` form, a
    /// percent-decoded value (`None` for a bare key). Property keys may repeat.
    pub properties: Vec<(String, Option<String>)>,
}

impl BaggageMember {
    /// A member without properties.
    pub fn new(key: impl Into<String>, value: impl Into<String>) -> Self {
        BaggageMember {
            key: key.into(),
            value: value.into(),
            properties: Vec::new(),
        }
    }

    /// Appends this member's canonical form to `out`.
    fn write_to(&self, out: &mut String) {
        out.push_str(&self.key);
        out.push('=');
        percent_encode_into(out, &self.value);
        for property in &self.properties {
            out.push(';');
            write_property(out, property);
        }
    }
}

/// Appends one property in its wire form (`key` or `key=percent-encoded value`).
pub(crate) fn write_property(out: &mut String, (key, value): &(String, Option<String>)) {
    out.push_str(key);
    if let Some(v) = value {
        out.push('=');
        percent_encode_into(out, v);
    }
}

/// A set of baggage members with unique keys, in order.
#[derive(Clone, Default)]
pub struct Baggage {
    /// Members in order; `None` is a removed member not yet compacted away.
    slots: Vec<Option<BaggageMember>>,
    /// How many slots hold a member.
    live: usize,
    /// Key to slot, kept once there are more than [`INDEX_AFTER`] slots (a
    /// scan is faster below that, and most baggage is small).
    index: Option<HashMap<String, usize>>,
}

impl PartialEq for Baggage {
    fn eq(&self, other: &Self) -> bool {
        self.live == other.live && self.iter().eq(other.iter())
    }
}

impl Eq for Baggage {}

impl fmt::Debug for Baggage {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Baggage")
            .field("members", &self.iter().collect::<Vec<_>>())
            .finish()
    }
}

impl Baggage {
    /// Empty baggage.
    pub fn new() -> Self {
        Self::default()
    }

    /// Parses one header value. See the [module docs](self) for the rules.
    ///
    /// ```
    /// use tracewire::Baggage;
    /// let bag = Baggage::parse("k=v;p1;p2 = x%20y, k2=a=b").unwrap();
    /// let m = bag.iter().next().unwrap();
    /// assert_eq!(m.properties, vec![("p1".into(), None), ("p2".into(), Some("x y".into()))]);
    /// assert_eq!(bag.get("k2"), Some("a=b"));
    /// assert!(Baggage::parse("k=a b").is_err());
    /// ```
    pub fn parse(value: &str) -> Result<Baggage, BaggageError> {
        Self::parse_lines([value])
    }

    /// Parses several header lines, combined as if joined by commas.
    ///
    /// No lines, or only empty ones, give empty baggage.
    pub fn parse_lines<'a, I: IntoIterator<Item = &'a str>>(
        lines: I,
    ) -> Result<Baggage, BaggageError> {
        let mut bag = Baggage::new();
        // Bytes of the raw budget left, counting one separator per line.
        let mut budget = MAX_RAW_BYTES + 1;
        for (n, line) in lines.into_iter().enumerate() {
            let sep = usize::from(n > 0);
            if budget <= sep {
                break;
            }
            budget -= sep;
            // The part of the line read: all of it within the budget, else up
            // to its last ',' within the budget (a member is only read whole;
            // one byte past the budget tells whether a member ends at it).
            let (line, last) = if line.len() < budget {
                budget -= line.len();
                (line, false)
            } else {
                let window = line.as_bytes().get(..budget).unwrap_or_default();
                let end = memchr::memrchr(b',', window).unwrap_or(0);
                // ',' is ASCII, so `end` is a char boundary.
                (line.get(..end).unwrap_or_default(), true)
            };
            // ',' is neither a tchar nor a baggage-octet, so it only ever
            // separates members.
            for raw in line.split(',') {
                let member = trim_ows(raw);
                if member.is_empty() {
                    continue;
                }
                let member = parse_member(member)?;
                match bag.position(&member.key) {
                    Some(i) => bag.slots[i] = Some(member),
                    // A new key past the limit can never be kept: validate it
                    // (done above) but hold nothing.
                    None if bag.live >= MAX_MEMBERS => {}
                    None => bag.push(member),
                }
            }
            if last {
                break;
            }
        }
        let (kept, _) = bag.fitting_prefix();
        bag.truncate(kept);
        Ok(bag)
    }

    /// The value for `key`.
    pub fn get(&self, key: &str) -> Option<&str> {
        let i = self.position(key)?;
        self.slots[i].as_ref().map(|m| m.value.as_str())
    }

    /// Sets `key` to `value` (without properties), replacing an existing
    /// member in place or appending a new one.
    ///
    /// `key` must be a token; `value` may be any string.
    pub fn insert(&mut self, key: &str, value: &str) -> Result<(), BaggageError> {
        self.insert_member(BaggageMember::new(key, value))
    }

    /// Adds a member, replacing one with the same key in place or appending.
    ///
    /// The key and every property key must be tokens; values may be any
    /// string. On error the baggage is unchanged.
    ///
    /// ```
    /// use tracewire::{Baggage, BaggageMember};
    /// let mut bag = Baggage::parse("a=1,b=2").unwrap();
    /// let mut m = BaggageMember::new("a", "x,y");
    /// m.properties.push(("ttl".into(), Some("30".into())));
    /// bag.insert_member(m).unwrap();
    /// assert_eq!(bag.to_header(), "a=x%2Cy;ttl=30,b=2");
    /// assert!(bag.insert("bad key", "v").is_err());
    /// ```
    pub fn insert_member(&mut self, member: BaggageMember) -> Result<(), BaggageError> {
        if !is_token(&member.key) {
            return Err(BaggageError::InvalidKey);
        }
        if !member.properties.iter().all(|(k, _)| is_token(k)) {
            return Err(BaggageError::InvalidPropertyKey);
        }
        self.upsert(member);
        Ok(())
    }

    /// Removes `key`, returning its member.
    pub fn remove(&mut self, key: &str) -> Option<BaggageMember> {
        let i = self.position(key)?;
        let member = self.slots[i].take()?;
        self.live -= 1;
        if let Some(index) = &mut self.index {
            index.remove(key);
        }
        // Compact once holes outnumber members, so each removal costs
        // amortised constant time and iteration stays linear in `len`.
        let holes = self.slots.len() - self.live;
        if holes > INDEX_AFTER && holes > self.live {
            self.compact();
        }
        Some(member)
    }

    /// The members in order.
    pub fn iter(&self) -> impl Iterator<Item = &BaggageMember> {
        self.slots.iter().filter_map(Option::as_ref)
    }

    /// The number of members.
    pub fn len(&self) -> usize {
        self.live
    }

    /// Whether there are no members.
    pub fn is_empty(&self) -> bool {
        self.live == 0
    }

    /// The header value: members in order, percent-encoded, joined by `,`,
    /// keeping whole members only while there are at most [`MAX_MEMBERS`] and
    /// at most [`MAX_BYTES`] bytes. Empty when there are no members.
    pub fn to_header(&self) -> String {
        self.fitting_prefix().1
    }

    /// Replaces the member with the same key in place, or appends.
    fn upsert(&mut self, member: BaggageMember) {
        if self.index.is_none() {
            // Small baggage: one scan, no index to keep.
            for m in self.slots.iter_mut().filter_map(Option::as_mut) {
                if m.key == member.key {
                    *m = member;
                    return;
                }
            }
            self.push(member);
            return;
        }
        match self.position(&member.key) {
            Some(i) => self.slots[i] = Some(member),
            None => self.push(member),
        }
    }

    /// The slot holding `key`.
    fn position(&self, key: &str) -> Option<usize> {
        match &self.index {
            Some(index) => index.get(key).copied(),
            None => self
                .slots
                .iter()
                .position(|m| m.as_ref().is_some_and(|m| m.key == key)),
        }
    }

    /// Appends a member whose key is not present.
    #[inline]
    fn push(&mut self, member: BaggageMember) {
        if let Some(index) = &mut self.index {
            index.insert(member.key.clone(), self.slots.len());
        }
        self.slots.push(Some(member));
        self.live += 1;
        if self.index.is_none() && self.slots.len() > INDEX_AFTER {
            self.rebuild_index();
        }
    }

    /// Keeps the first `n` members.
    fn truncate(&mut self, n: usize) {
        if n < self.live {
            self.compact();
            self.slots.truncate(n);
            self.live = n;
            self.rebuild_index();
        }
    }

    /// Removes the holes left by [`remove`](Self::remove).
    #[cold]
    fn compact(&mut self) {
        self.slots.retain(Option::is_some);
        self.rebuild_index();
    }

    #[cold]
    fn rebuild_index(&mut self) {
        self.index = (self.slots.len() > INDEX_AFTER).then(|| {
            self.slots
                .iter()
                .enumerate()
                .filter_map(|(i, m)| Some((m.as_ref()?.key.clone(), i)))
                .collect()
        });
    }

    /// How many leading members fit the limits, and their serialisation.
    fn fitting_prefix(&self) -> (usize, String) {
        let mut out = String::new();
        let mut one = String::new();
        let mut kept = 0;
        for m in self.iter().take(MAX_MEMBERS) {
            if m.properties.len() > MAX_PROPERTIES {
                break;
            }
            one.clear();
            m.write_to(&mut one);
            let sep = usize::from(kept > 0);
            if out.len() + sep + one.len() > MAX_BYTES {
                break;
            }
            if sep == 1 {
                out.push(',');
            }
            out.push_str(&one);
            kept += 1;
        }
        (kept, out)
    }
}

impl fmt::Display for Baggage {
    /// Writes [`Baggage::to_header`].
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_header())
    }
}

impl std::str::FromStr for Baggage {
    type Err = BaggageError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Baggage::parse(s)
    }
}

/// Parses one non-empty, OWS-trimmed list-member.
fn parse_member(member: &str) -> Result<BaggageMember, BaggageError> {
    // ';' is neither a tchar nor a baggage-octet, so it only separates properties.
    let mut parts = member.split(';');
    let head = parts.next().unwrap_or_default();
    let (key, value) = head.split_once('=').ok_or(BaggageError::Invalid)?;
    let key = trim_ows(key);
    if !is_token(key) {
        return Err(BaggageError::InvalidKey);
    }
    let value =
        decode_value(trim_ows(value)).map_err(|e| e.unwrap_or(BaggageError::InvalidValue))?;
    let mut properties = Vec::new();
    for prop in parts {
        let property = parse_property(prop)?;
        // One more than the limit is enough to know the member does not
        // fit; the rest are validated but not held.
        if properties.len() <= MAX_PROPERTIES {
            properties.push(property);
        }
    }
    Ok(BaggageMember {
        key: key.to_owned(),
        value,
        properties,
    })
}

/// Parses one property in its wire form (OWS around it and around `=`
/// allowed), percent-decoding the value.
pub(crate) fn parse_property(prop: &str) -> Result<(String, Option<String>), BaggageError> {
    let prop = trim_ows(prop);
    let (key, value) = match prop.split_once('=') {
        Some((k, v)) => (trim_ows(k), Some(trim_ows(v))),
        None => (prop, None),
    };
    if !is_token(key) {
        return Err(BaggageError::InvalidPropertyKey);
    }
    let value = match value {
        Some(v) => {
            Some(decode_value(v).map_err(|e| e.unwrap_or(BaggageError::InvalidPropertyValue))?)
        }
        None => None,
    };
    Ok((key.to_owned(), value))
}

/// Checks `*baggage-octet` and percent-decodes.
///
/// `Err(None)` means a character outside `baggage-octet` (the caller names
/// which value); `Err(Some(_))` a bad escape.
fn decode_value(raw: &str) -> Result<String, Option<BaggageError>> {
    let b = raw.as_bytes();
    if !b.iter().all(|&c| is_received_value_octet(c)) {
        return Err(None);
    }
    if !b.contains(&b'%') {
        return Ok(raw.to_owned());
    }
    let mut bytes = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%' {
            let hi = b.get(i + 1).and_then(|&c| hex_val(c));
            let lo = b.get(i + 2).and_then(|&c| hex_val(c));
            match (hi, lo) {
                (Some(hi), Some(lo)) => {
                    bytes.push(hi << 4 | lo);
                    i += 3;
                }
                // Not an escape: a literal '%', as several SDKs write it raw.
                _ => {
                    bytes.push(b'%');
                    i += 1;
                }
            }
        } else {
            bytes.push(b[i]);
            i += 1;
        }
    }
    // The recommendation requires U+FFFD for ill-formed UTF-8, not an error.
    Ok(String::from_utf8(bytes)
        .unwrap_or_else(|e| String::from_utf8_lossy(e.as_bytes()).into_owned()))
}

/// Appends `s` with every byte outside `baggage-octet`, and `%` and `=`, as
/// `%XX`. `=` is legal raw, but several propagators split a member at every
/// `=` and would lose the value.
fn percent_encode_into(out: &mut String, s: &str) {
    for &c in s.as_bytes() {
        if is_baggage_octet(c) && c != b'%' && c != b'=' {
            out.push(char::from(c));
        } else {
            // Writing to a String cannot fail.
            let _ = write!(out, "%{c:02X}");
        }
    }
}

/// `baggage-octet = %x21 / %x23-2B / %x2D-3A / %x3C-5B / %x5D-7E`.
fn is_baggage_octet(c: u8) -> bool {
    matches!(c, 0x21 | 0x23..=0x2b | 0x2d..=0x3a | 0x3c..=0x5b | 0x5d..=0x7e)
}

/// What a receiver accepts raw in a value: `baggage-octet`, plus `"` and `\`,
/// which some propagators (opentelemetry-rust's among them) write unencoded.
/// Senders always percent-encode both.
fn is_received_value_octet(c: u8) -> bool {
    is_baggage_octet(c) || c == b'"' || c == b'\\'
}

/// RFC 7230 `token = 1*tchar`.
pub(crate) fn is_token(s: &str) -> bool {
    !s.is_empty()
        && s.bytes().all(|c| {
            c.is_ascii_alphanumeric()
                || matches!(
                    c,
                    b'!' | b'#'
                        | b'$'
                        | b'%'
                        | b'&'
                        | b'\''
                        | b'*'
                        | b'+'
                        | b'-'
                        | b'.'
                        | b'^'
                        | b'_'
                        | b'`'
                        | b'|'
                        | b'~'
                )
        })
}

/// The value of one hex digit, either case.
fn hex_val(c: u8) -> Option<u8> {
    match c {
        b'0'..=b'9' => Some(c - b'0'),
        b'a'..=b'f' => Some(c - b'a' + 10),
        b'A'..=b'F' => Some(c - b'A' + 10),
        _ => None,
    }
}

/// Strips optional whitespace (spaces and tabs, RFC 7230 `OWS`).
fn trim_ows(s: &str) -> &str {
    s.trim_matches([' ', '\t'])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn octets_and_tokens() {
        assert!(is_baggage_octet(b'='));
        assert!(is_baggage_octet(b'%'));
        for c in [b' ', b'"', b',', b';', b'\\', 0x7f, 0x80] {
            assert!(!is_baggage_octet(c), "{c:#x}");
        }
        assert!(is_token("Ab9!#$%&'*+-.^_`|~"));
        assert!(!is_token(""));
        assert!(!is_token("a b"));
        assert!(!is_token("a/b"));
    }

    #[test]
    fn decoding() {
        assert_eq!(decode_value("a%20b").as_deref(), Ok("a b"));
        assert_eq!(decode_value("%e2%82%ac").as_deref(), Ok("€"));
        assert_eq!(decode_value("%FF").as_deref(), Ok("\u{fffd}"));
        assert_eq!(decode_value("%2").as_deref(), Ok("%2"));
        assert_eq!(decode_value("100%").as_deref(), Ok("100%"));
        assert_eq!(decode_value("%zz%41").as_deref(), Ok("%zzA"));
        assert_eq!(decode_value("a b"), Err(None));
    }

    #[test]
    fn encoding() {
        let mut s = String::new();
        percent_encode_into(&mut s, "a b,c;d=e%f\u{e9}");
        assert_eq!(s, "a%20b%2Cc%3Bd%3De%25f%C3%A9");
    }

    #[test]
    fn many_members_parse_in_linear_time() {
        let header: Vec<String> = (0..200_000).map(|i| format!("k{}=v", i % 50_000)).collect();
        let bag = Baggage::parse(&header.join(",")).expect("valid");
        assert_eq!(bag.len(), MAX_MEMBERS);
        assert_eq!(bag.get("k0"), Some("v"));
    }

    #[test]
    fn error_codes() {
        assert_eq!(BaggageError::Invalid.code(), ErrorCode::InvalidBaggage);
    }
}
