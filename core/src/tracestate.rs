//! PLACEHOLDER: the W3C `tracestate` header. Being written on branch `tracestate-baggage`.

use crate::error::ErrorCode;

/// Why a `tracestate` value was rejected.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum TraceStateError {
    /// Placeholder.
    #[error("invalid tracestate")]
    Invalid,
}

impl TraceStateError {
    /// The stable error code.
    pub const fn code(&self) -> ErrorCode {
        ErrorCode::InvalidTraceState
    }
}

/// An ordered list of vendor entries, most recently updated first.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TraceState {
    entries: Vec<(String, String)>,
}

impl TraceState {
    /// An empty tracestate.
    pub fn new() -> Self {
        Self::default()
    }
    /// Parses one header value.
    pub fn parse(value: &str) -> Result<TraceState, TraceStateError> {
        Self::parse_lines([value])
    }
    /// Parses several header lines, combined as if joined by commas.
    pub fn parse_lines<'a, I: IntoIterator<Item = &'a str>>(
        lines: I,
    ) -> Result<TraceState, TraceStateError> {
        let mut entries = Vec::new();
        for line in lines {
            for m in line.split(',') {
                let m = m.trim();
                if m.is_empty() {
                    continue;
                }
                let (k, v) = m.split_once('=').ok_or(TraceStateError::Invalid)?;
                entries.push((k.to_owned(), v.to_owned()));
            }
        }
        Ok(TraceState { entries })
    }
    /// The value for `key`.
    pub fn get(&self, key: &str) -> Option<&str> {
        self.entries
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }
    /// Sets `key` to `value` and moves it to the front.
    pub fn insert(&mut self, key: &str, value: &str) -> Result<(), TraceStateError> {
        self.entries.retain(|(k, _)| k != key);
        self.entries.insert(0, (key.to_owned(), value.to_owned()));
        Ok(())
    }
    /// Removes `key`, returning its value.
    pub fn remove(&mut self, key: &str) -> Option<String> {
        let i = self.entries.iter().position(|(k, _)| k == key)?;
        Some(self.entries.remove(i).1)
    }
    /// The entries in order.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &str)> {
        self.entries.iter().map(|(k, v)| (k.as_str(), v.as_str()))
    }
    /// The number of entries.
    pub fn len(&self) -> usize {
        self.entries.len()
    }
    /// Whether there are no entries.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }
    /// The header value, truncated to the propagation limits.
    pub fn to_header(&self) -> String {
        self.iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect::<Vec<_>>()
            .join(",")
    }
}
