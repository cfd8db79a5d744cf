//! PLACEHOLDER: W3C Baggage. Being written on branch `tracestate-baggage`.

use crate::error::ErrorCode;

/// Why a `baggage` value was rejected.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum BaggageError {
    /// Placeholder.
    #[error("invalid baggage")]
    Invalid,
}

impl BaggageError {
    /// The stable error code.
    pub const fn code(&self) -> ErrorCode {
        ErrorCode::InvalidBaggage
    }
}

/// One baggage member: a key, a decoded value, and its properties.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BaggageMember {
    /// The key.
    pub key: String,
    /// The value, percent-decoded.
    pub value: String,
    /// Properties, each a key and an optional value, in order.
    pub properties: Vec<(String, Option<String>)>,
}

/// A set of baggage members, in order.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Baggage {
    members: Vec<BaggageMember>,
}

impl Baggage {
    /// Empty baggage.
    pub fn new() -> Self {
        Self::default()
    }
    /// Parses one header value.
    pub fn parse(value: &str) -> Result<Baggage, BaggageError> {
        Self::parse_lines([value])
    }
    /// Parses several header lines.
    pub fn parse_lines<'a, I: IntoIterator<Item = &'a str>>(
        lines: I,
    ) -> Result<Baggage, BaggageError> {
        let mut members = Vec::new();
        for line in lines {
            for m in line.split(',') {
                let m = m.trim();
                if m.is_empty() {
                    continue;
                }
                let (k, v) = m.split_once('=').ok_or(BaggageError::Invalid)?;
                members.push(BaggageMember {
                    key: k.trim().to_owned(),
                    value: v.trim().to_owned(),
                    properties: vec![],
                });
            }
        }
        Ok(Baggage { members })
    }
    /// The value for `key`.
    pub fn get(&self, key: &str) -> Option<&str> {
        self.members
            .iter()
            .find(|m| m.key == key)
            .map(|m| m.value.as_str())
    }
    /// Sets `key` to `value`.
    pub fn insert(&mut self, key: &str, value: &str) -> Result<(), BaggageError> {
        self.insert_member(BaggageMember {
            key: key.to_owned(),
            value: value.to_owned(),
            properties: vec![],
        })
    }
    /// Adds or replaces a member.
    pub fn insert_member(&mut self, member: BaggageMember) -> Result<(), BaggageError> {
        self.members.retain(|m| m.key != member.key);
        self.members.push(member);
        Ok(())
    }
    /// Removes `key`.
    pub fn remove(&mut self, key: &str) -> Option<BaggageMember> {
        let i = self.members.iter().position(|m| m.key == key)?;
        Some(self.members.remove(i))
    }
    /// The members in order.
    pub fn iter(&self) -> impl Iterator<Item = &BaggageMember> {
        self.members.iter()
    }
    /// The number of members.
    pub fn len(&self) -> usize {
        self.members.len()
    }
    /// Whether there are no members.
    pub fn is_empty(&self) -> bool {
        self.members.is_empty()
    }
    /// The header value within the limits.
    pub fn to_header(&self) -> String {
        self.members
            .iter()
            .map(|m| format!("{}={}", m.key, m.value))
            .collect::<Vec<_>>()
            .join(",")
    }
}
