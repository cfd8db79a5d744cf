//! Errors as every adapter reports them: a core [`ErrorCode`] and a message.
//!
//! The codes are the core's ([`tracewire::ErrorCode`]); this module only keeps
//! the list of them that the adapters hand to Java and Python, and the
//! numeric lookup.

use std::fmt;
use tracewire::ErrorCode;

/// Every code the core defines, in numeric order. Python builds
/// `tracewire.ErrorCode` from this list; JNI names codes from it.
pub const ERROR_CODES: [ErrorCode; 9] = [
    ErrorCode::InvalidTraceParent,
    ErrorCode::InvalidTraceState,
    ErrorCode::InvalidBaggage,
    ErrorCode::InvalidEnvelope,
    ErrorCode::UnsupportedEnvelopeVersion,
    ErrorCode::NotJsonObject,
    ErrorCode::InvalidCarrier,
    ErrorCode::InvalidArgument,
    ErrorCode::Panic,
];

/// The core code whose number is `code`, if any.
pub fn error_code(code: u32) -> Option<ErrorCode> {
    ERROR_CODES.iter().copied().find(|c| c.as_u32() == code)
}

/// A failure crossing FFI: what the adapter turns into its target's error.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BridgeError {
    /// The stable code.
    pub code: ErrorCode,
    /// A human-readable message.
    pub message: String,
}

/// The result of bridge functions.
pub type Result<T> = std::result::Result<T, BridgeError>;

impl BridgeError {
    /// An error with `code` and `message`.
    pub fn new(code: ErrorCode, message: impl Into<String>) -> BridgeError {
        BridgeError {
            code,
            message: message.into(),
        }
    }

    /// An `invalid_argument` error.
    pub fn invalid_argument(message: impl Into<String>) -> BridgeError {
        BridgeError::new(ErrorCode::InvalidArgument, message)
    }
}

impl fmt::Display for BridgeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for BridgeError {}

/// A core error type: it knows its code and displays its message.
pub trait CoreError: fmt::Display {
    /// The stable code.
    fn code(&self) -> ErrorCode;
}

macro_rules! core_errors {
    ($($ty:ty),+ $(,)?) => {
        $(
            impl CoreError for $ty {
                fn code(&self) -> ErrorCode {
                    <$ty>::code(self)
                }
            }

            impl From<$ty> for BridgeError {
                fn from(e: $ty) -> Self {
                    BridgeError::new(CoreError::code(&e), e.to_string())
                }
            }
        )+
    };
}

core_errors!(
    tracewire::TraceParentError,
    tracewire::TraceStateError,
    tracewire::BaggageError,
    tracewire::EnvelopeError,
    tracewire::InvalidArgument,
    tracewire::ExtractIssue,
);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_table_round_trips_and_is_in_order() {
        for c in ERROR_CODES {
            assert_eq!(error_code(c.as_u32()), Some(c));
        }
        assert!(
            ERROR_CODES
                .windows(2)
                .all(|w| w[0].as_u32() < w[1].as_u32())
        );
        assert_eq!(error_code(0), None);
        assert_eq!(error_code(9), None);
    }

    #[test]
    fn core_errors_keep_code_and_message() {
        let e = tracewire::TraceParent::parse("nope").unwrap_err();
        let b = BridgeError::from(e.clone());
        assert_eq!(b.code, ErrorCode::InvalidTraceParent);
        assert_eq!(b.message, e.to_string());
    }
}
