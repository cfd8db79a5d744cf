//! Attribute values decided by core and applied by each language's SDK.

use std::borrow::Cow;

/// The value of a span attribute decided by core.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    /// A string value.
    String(Cow<'static, str>),
    /// A signed integer value.
    Int(i64),
    /// A floating-point value (durations are in seconds).
    Float(f64),
    /// A boolean value.
    Bool(bool),
}

/// One span attribute: a key from the semantic conventions and its value.
#[derive(Debug, Clone, PartialEq)]
pub struct KeyValue {
    /// The attribute key, e.g. `websocket.session.id`.
    pub key: &'static str,
    /// The attribute value.
    pub value: Value,
}

impl KeyValue {
    /// Builds an attribute from a key and anything convertible to a [`Value`].
    pub fn new(key: &'static str, value: impl Into<Value>) -> Self {
        KeyValue {
            key,
            value: value.into(),
        }
    }
}

impl From<&'static str> for Value {
    fn from(s: &'static str) -> Self {
        Value::String(Cow::Borrowed(s))
    }
}

impl From<String> for Value {
    fn from(s: String) -> Self {
        Value::String(Cow::Owned(s))
    }
}

impl From<i64> for Value {
    fn from(v: i64) -> Self {
        Value::Int(v)
    }
}

impl From<u64> for Value {
    fn from(v: u64) -> Self {
        Value::Int(i64::try_from(v).unwrap_or(i64::MAX))
    }
}

impl From<f64> for Value {
    fn from(v: f64) -> Self {
        Value::Float(v)
    }
}

impl From<bool> for Value {
    fn from(v: bool) -> Self {
        Value::Bool(v)
    }
}
