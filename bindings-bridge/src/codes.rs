//! The numeric code and the name of every enum that crosses FFI, in one
//! table per enum (the crate docs list them). C constants (`TW_SPAN_KIND_*`),
//! Java arrays and Go constants mirror these numbers, and each adapter's tests
//! check its copy against [`Coded::ALL`].
//!
//! Decoding is strict: an unknown number or name is an `invalid_argument`
//! error that names the enum and the value, never a default.

use crate::error::BridgeError;
use tracewire::envelope::Decoded;
use tracewire::handshake::Envelopes;
use tracewire::model::{LinkSource, MessageType, Model, ParentSource, Role, SpanKind};
use tracewire::{StreamKind, Value};

/// An enum with a stable number and name for each value.
pub trait Coded: Copy + PartialEq + Sized + 'static {
    /// What the values are, for error messages (`"span kind"`).
    const WHAT: &'static str;
    /// Every value, in code order.
    const ALL: &'static [Self];

    /// The stable number.
    fn code(self) -> u8;

    /// The stable name (`snake_case`).
    fn name(self) -> &'static str;

    /// The value numbered `code`; an unknown number is `invalid_argument`.
    fn from_code(code: u32) -> Result<Self, BridgeError> {
        Self::ALL
            .iter()
            .copied()
            .find(|v| u32::from(v.code()) == code)
            .ok_or_else(|| BridgeError::invalid_argument(format!("unknown {} {code}", Self::WHAT)))
    }

    /// The value named `name` (exactly); an unknown name is
    /// `invalid_argument` listing the names.
    fn from_name(name: &str) -> Result<Self, BridgeError> {
        Self::ALL
            .iter()
            .copied()
            .find(|v| v.name() == name)
            .ok_or_else(|| {
                let names: Vec<String> = Self::ALL
                    .iter()
                    .map(|v| format!("{:?}", v.name()))
                    .collect();
                let list = match names.split_last() {
                    Some((last, rest)) if !rest.is_empty() => {
                        format!("{} or {last}", rest.join(", "))
                    }
                    _ => names.join(""),
                };
                BridgeError::invalid_argument(format!("the {} must be {list}", Self::WHAT))
            })
    }
}

macro_rules! coded {
    ($ty:ident, $what:literal { $($variant:ident = $code:literal, $name:literal;)+ }) => {
        impl Coded for $ty {
            const WHAT: &'static str = $what;
            const ALL: &'static [Self] = &[$($ty::$variant),+];

            fn code(self) -> u8 {
                match self {
                    $($ty::$variant => $code),+
                }
            }

            fn name(self) -> &'static str {
                match self {
                    $($ty::$variant => $name),+
                }
            }
        }
    };
}

coded!(Model, "tracing model" {
    Connection = 0, "connection";
    Message = 1, "message";
});

coded!(Role, "role" {
    Client = 0, "client";
    Server = 1, "server";
});

coded!(MessageType, "message type" {
    Text = 0, "text";
    Binary = 1, "binary";
});

coded!(SpanKind, "span kind" {
    Client = 0, "client";
    Server = 1, "server";
    Producer = 2, "producer";
    Consumer = 3, "consumer";
    Internal = 4, "internal";
});

coded!(ParentSource, "parent source" {
    Remote = 0, "remote";
    Ambient = 1, "ambient";
    AmbientInConnectionTrace = 2, "ambient_in_connection_trace";
    Connection = 3, "connection";
});

coded!(LinkSource, "link source" {
    Connection = 0, "connection";
});

coded!(StreamKind, "stream kind" {
    Generic = 0, "generic";
    ModelOutput = 1, "model_output";
});

/// What decoding a received frame gave, without its payload.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum DecodedKind {
    /// No envelope.
    Plain,
    /// A valid envelope.
    Enveloped,
    /// A malformed envelope.
    Malformed,
}

impl DecodedKind {
    /// The kind of a decoding result.
    pub fn of(d: &Decoded<'_>) -> DecodedKind {
        match d {
            Decoded::Plain(_) => DecodedKind::Plain,
            Decoded::Enveloped(..) => DecodedKind::Enveloped,
            Decoded::Malformed(..) => DecodedKind::Malformed,
        }
    }
}

coded!(DecodedKind, "decoding outcome" {
    Plain = 0, "plain";
    Enveloped = 1, "enveloped";
    Malformed = 2, "malformed";
});

/// The type tag of an attribute value in the byte format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ValueTag {
    /// A UTF-8 string.
    String,
    /// A signed 64-bit integer.
    Int,
    /// An IEEE double.
    Float,
    /// A boolean.
    Bool,
}

impl ValueTag {
    /// The tag of a value.
    pub fn of(v: &Value) -> ValueTag {
        match v {
            Value::String(_) => ValueTag::String,
            Value::Int(_) => ValueTag::Int,
            Value::Float(_) => ValueTag::Float,
            Value::Bool(_) => ValueTag::Bool,
        }
    }
}

coded!(ValueTag, "attribute value type" {
    String = 0, "string";
    Int = 1, "int";
    Float = 2, "float";
    Bool = 3, "bool";
});

/// The events of a connection the tracing model decides a span for (the
/// operation numbers of JNI's `modelDecide`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ModelEvent {
    /// The connection span.
    Open,
    /// Sending one message.
    Send,
    /// Processing one received message.
    Receive,
    /// The close.
    Close,
}

coded!(ModelEvent, "model event" {
    Open = 0, "open";
    Send = 1, "send";
    Receive = 2, "receive";
    Close = 3, "close";
});

/// Envelope set bit: the JSON envelope (token `json`).
pub const ENVELOPE_JSON: u32 = 1;
/// Envelope set bit: the binary envelope (token `binary`).
pub const ENVELOPE_BINARY: u32 = 2;

/// The envelope set of a bit set. Other bits are reserved and ignored, as
/// unknown tokens of the `tracewire-envelope` header are.
pub fn envelopes_from_bits(bits: u32) -> Envelopes {
    Envelopes {
        json: bits & ENVELOPE_JSON != 0,
        binary: bits & ENVELOPE_BINARY != 0,
    }
}

/// The bit set of an envelope set.
pub fn envelopes_to_bits(e: Envelopes) -> u32 {
    (if e.json { ENVELOPE_JSON } else { 0 }) | (if e.binary { ENVELOPE_BINARY } else { 0 })
}

#[cfg(test)]
mod tests {
    use super::*;
    use tracewire::ErrorCode;

    fn check<T: Coded + std::fmt::Debug>() {
        for (i, v) in T::ALL.iter().enumerate() {
            // Codes are dense and in order, so a reader can index an array.
            assert_eq!(usize::from(v.code()), i, "{v:?}");
            assert_eq!(T::from_code(u32::from(v.code())).unwrap(), *v);
            assert_eq!(T::from_name(v.name()).unwrap(), *v);
        }
        let e = T::from_code(T::ALL.len() as u32).unwrap_err();
        assert_eq!(e.code, ErrorCode::InvalidArgument);
        assert!(e.message.contains(T::WHAT), "{e}");
        assert!(T::from_code(255).is_err());
        let e = T::from_name("nope").unwrap_err();
        assert!(e.message.contains(T::ALL[0].name()), "{e}");
    }

    #[test]
    fn every_table_round_trips_and_rejects_unknown_values() {
        check::<Model>();
        check::<Role>();
        check::<MessageType>();
        check::<SpanKind>();
        check::<ParentSource>();
        check::<LinkSource>();
        check::<StreamKind>();
        check::<DecodedKind>();
        check::<ValueTag>();
        check::<ModelEvent>();
    }

    #[test]
    fn names_agree_with_the_core_where_it_has_them() {
        for m in Model::ALL {
            assert_eq!(m.name(), m.as_str());
        }
        for t in MessageType::ALL {
            assert_eq!(t.name(), t.as_str());
        }
    }

    #[test]
    fn messages_name_the_choices() {
        assert_eq!(
            Role::from_name("peer").unwrap_err().message,
            "the role must be \"client\" or \"server\""
        );
        assert_eq!(
            SpanKind::from_code(9).unwrap_err().message,
            "unknown span kind 9"
        );
    }

    #[test]
    fn envelope_bits_round_trip() {
        for bits in 0..4 {
            assert_eq!(envelopes_to_bits(envelopes_from_bits(bits)), bits);
        }
        assert_eq!(envelopes_to_bits(envelopes_from_bits(4 | 1)), 1);
    }
}
