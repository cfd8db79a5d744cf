//! Stable names for the crate's enums, written once.
//!
//! Every binding and every vector file spells a variant the same way (the
//! lowercase `snake_case` name), so each enum gets its `ALL` table, `as_str`
//! and `FromStr` from one macro rather than a hand-written `match` per
//! direction that could drift.

/// Implements `ALL`, `as_str` and `FromStr` for a fieldless enum from one
/// `Variant => "name"` table. Parsing trims and ignores ASCII case, because
/// these names also come from configuration (environment variables, flags).
macro_rules! names {
    ($ty:ident, $invalid:literal, { $($variant:ident => $name:literal),+ $(,)? }) => {
        impl $ty {
            /// Every variant, in declaration order (the order bindings mirror).
            pub const ALL: &'static [$ty] = &[$($ty::$variant),+];

            /// The stable lowercase name, as in the vector files and every binding.
            pub const fn as_str(self) -> &'static str {
                match self {
                    $($ty::$variant => $name),+
                }
            }
        }

        impl std::str::FromStr for $ty {
            type Err = crate::error::InvalidArgument;

            /// Parses [`as_str`](Self::as_str)'s name, ignoring surrounding
            /// whitespace and ASCII case.
            fn from_str(s: &str) -> Result<Self, Self::Err> {
                let s = s.trim();
                $(
                    if s.eq_ignore_ascii_case($name) {
                        return Ok($ty::$variant);
                    }
                )+
                Err(crate::error::InvalidArgument($invalid))
            }
        }
    };
}

pub(crate) use names;
