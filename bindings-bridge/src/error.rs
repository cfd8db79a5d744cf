//! Errors as every adapter reports them: a core [`ErrorCode`] and a message.
//!
//! The codes, their names and their numbers are the core's
//! ([`tracewire::ErrorCode::ALL`], [`tracewire::ErrorCode::from_u32`]); the
//! adapters hand that table to their language as it is.

use std::fmt;
use tracewire::ErrorCode;

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
    fn core_errors_keep_code_and_message() {
        let e = tracewire::TraceParent::parse("nope").unwrap_err();
        let b = BridgeError::from(e.clone());
        assert_eq!(b.code, ErrorCode::InvalidTraceParent);
        assert_eq!(b.message, e.to_string());
    }
}
