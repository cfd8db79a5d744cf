//! The numeric code and the name of every enum that crosses FFI, in one
//! table per enum (the crate docs list them). C constants (`TW_SPAN_KIND_*`),
//! Java arrays and Go constants mirror these numbers, and each adapter's tests
//! check its copy against [`Coded::ALL`].
//!
//! For the core's enums nothing is restated here: the code is the value's
//! position in the core's `ALL` and the name is its `as_str`. Only the
//! bridge's own enums ([`DecodedKind`], [`ValueTag`], [`ModelEvent`],
//! [`BaggagePolicyKind`]) have their tables written out.
//!
//! Decoding is strict: an unknown number or name is an `invalid_argument`
//! error that names the enum and the value, never a default.

use crate::error::BridgeError;
use tracewire::envelope::Decoded;
use tracewire::handshake::Envelopes;
use tracewire::model::{
    Available, BaggagePolicy, BaggageSource, LinkSource, MessageType, Model, Parent, ParentSource,
    RemoteContext, Role, SpanKind,
};
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

/// The table of a core enum: codes are positions in its `ALL`.
macro_rules! core_coded {
    ($($ty:ident, $what:literal;)+) => {
        $(
            impl Coded for $ty {
                const WHAT: &'static str = $what;
                const ALL: &'static [Self] = $ty::ALL;

                fn code(self) -> u8 {
                    // The core's tables have a handful of values each.
                    $ty::ALL.iter().position(|v| *v == self).unwrap_or(0) as u8
                }

                fn name(self) -> &'static str {
                    self.as_str()
                }
            }
        )+
    };
}

core_coded! {
    Model, "tracing model";
    Role, "role";
    MessageType, "message type";
    SpanKind, "span kind";
    ParentSource, "parent source";
    LinkSource, "link source";
    Parent, "parent";
    BaggageSource, "baggage source";
    RemoteContext, "remote context policy";
}

/// Which kind of [`BaggagePolicy`] crosses FFI; an allowlist's keys cross
/// beside it (as a list of strings).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BaggagePolicyKind {
    /// [`BaggagePolicy::KeepAll`].
    KeepAll,
    /// [`BaggagePolicy::AllowKeys`].
    AllowKeys,
    /// [`BaggagePolicy::Drop`].
    Drop,
}

coded!(BaggagePolicyKind, "baggage policy" {
    KeepAll = 0, "keep_all";
    AllowKeys = 1, "allow_keys";
    Drop = 2, "drop";
});

impl BaggagePolicyKind {
    /// The policy of this kind; `keys` are used only by `AllowKeys`.
    pub fn policy(self, keys: impl IntoIterator<Item = String>) -> BaggagePolicy {
        match self {
            BaggagePolicyKind::KeepAll => BaggagePolicy::KeepAll,
            BaggagePolicyKind::AllowKeys => BaggagePolicy::AllowKeys(keys.into_iter().collect()),
            BaggagePolicyKind::Drop => BaggagePolicy::Drop,
        }
    }

    /// The kind of `policy`.
    pub fn of(policy: &BaggagePolicy) -> Self {
        match policy {
            BaggagePolicy::KeepAll => BaggagePolicyKind::KeepAll,
            BaggagePolicy::AllowKeys(_) => BaggagePolicyKind::AllowKeys,
            BaggagePolicy::Drop => BaggagePolicyKind::Drop,
        }
    }
}

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
/// subprotocol tokens naming unknown envelope sets are.
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

/// The facts of [`Available`] as bits, in the order of its fields: what a
/// binding reads off its own SDK's contexts before a span starts.
pub const AVAILABLE_BITS: [&str; 6] = [
    "remote_has_span",
    "remote_has_baggage",
    "ambient_has_span",
    "ambient_in_connection_trace",
    "ambient_is_connection",
    "connection_has_span",
];

/// The [`Available`] facts of a bit set (bit `i` is [`AVAILABLE_BITS`]`[i]`).
/// Other bits are reserved; a set one is `invalid_argument`, since a fact
/// this version does not know cannot be honoured.
pub fn available_from_bits(bits: u32) -> Result<Available, BridgeError> {
    if bits >> AVAILABLE_BITS.len() != 0 {
        return Err(BridgeError::invalid_argument(format!(
            "unknown availability bits {bits:#x}"
        )));
    }
    let bit = |i: u32| bits & (1 << i) != 0;
    Ok(Available {
        remote_has_span: bit(0),
        remote_has_baggage: bit(1),
        ambient_has_span: bit(2),
        ambient_in_connection_trace: bit(3),
        ambient_is_connection: bit(4),
        connection_has_span: bit(5),
    })
}

/// An [`Applied`](tracewire::model::Applied) in one `u32`, so it crosses FFI
/// as a plain return value: bits 0-7 the [`Parent`] code, bits 8-15 the
/// [`BaggageSource`] code, bit 16 whether to link the connection span, bit
/// 17 whether to link the received span context.
pub fn pack_applied(applied: tracewire::model::Applied) -> u32 {
    u32::from(applied.parent.code())
        | u32::from(applied.baggage.code()) << 8
        | u32::from(applied.link_connection) << 16
        | u32::from(applied.link_remote) << 17
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
        check::<Parent>();
        check::<BaggageSource>();
        check::<RemoteContext>();
        check::<BaggagePolicyKind>();
        check::<StreamKind>();
        check::<DecodedKind>();
        check::<ValueTag>();
        check::<ModelEvent>();
    }

    #[test]
    fn available_bits_follow_the_field_order() {
        for (i, fact) in AVAILABLE_BITS.iter().enumerate() {
            let a = available_from_bits(1 << i).unwrap();
            let set = [
                a.remote_has_span,
                a.remote_has_baggage,
                a.ambient_has_span,
                a.ambient_in_connection_trace,
                a.ambient_is_connection,
                a.connection_has_span,
            ];
            assert_eq!(set.iter().filter(|b| **b).count(), 1, "{fact}");
            assert!(set[i], "{fact}");
        }
        assert!(available_from_bits(1 << AVAILABLE_BITS.len()).is_err());
    }

    #[test]
    fn applied_packs_into_one_word() {
        let applied = tracewire::model::Applied {
            parent: Parent::NewTrace,
            link_connection: true,
            link_remote: true,
            baggage: BaggageSource::Remote,
        };
        // new_trace is 3, remote baggage 0, the link bits 16 and 17.
        assert_eq!(pack_applied(applied), 3 | 1 << 16 | 1 << 17);
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
