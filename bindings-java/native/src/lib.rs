//! JNI bridge of tracewire for the Java binding.
//!
//! Every function here is a `native` method of `dev.tracewire.internal.Native`
//! and nothing else is exported. The bridge is not an API: the public Java
//! types in `dev.tracewire` are.
//!
//! Conventions, chosen so that hot paths cost one JNI call and no JNI object
//! conversions (STYLE.md, "Hot paths avoid conversions"):
//!
//! - Inputs and outputs travel through direct buffers, passed as an address
//!   and a length: Java owns them and keeps them alive for the call; Rust only
//!   borrows them for its duration and never keeps a pointer.
//! - A function producing bytes writes them at `out` and returns their length,
//!   or, when they do not fit in `cap`, returns minus the length needed (the
//!   caller grows its buffer and calls again). The layouts are the bridge's
//!   byte format (`tracewire_bridge::wire`, little-endian); each entry point
//!   documents what it reads and writes.
//! - Every entry point runs inside the bridge's panic guard (directly on the
//!   hot paths, through `EnvUnowned::with_env` where it needs JNI calls);
//!   `Throw` turns an error or a panic into a
//!   `dev.tracewire.TracewireException` carrying the core's error code
//!   (`panic` = 100), unless a Java exception is already pending, which then
//!   wins (no exception is ever thrown over another).
//! - Handles (`jsonNew`, `metricsNew`) are `Box` pointers owned by one Java
//!   object each; the Java side frees them exactly once.
//!
//! | module | entry points |
//! |---|---|
//! | `guard` | (none) the error policy, the guard, the direct-buffer contract |
//! | `plumbing` | `address`, `fieldName`, `errorName`, `noop`, `testingPanic`, `testingError` |
//! | `headers` | `extract`, `inject`, `serverHandshake`, `clientRequest`, `clientAccepted`, `newSessionId`, `extractFields`, `injectTraceParent`, `extractTraceParent` |
//! | `envelope` | `jsonNew`, `jsonFree`, `jsonInject`, `jsonExtract`, `binaryEncode`, `binaryDecode`, `toCarrier`, `fromCarrier` |
//! | `model` | `modelParse`, `modelDecide` (events: `ModelEvent`) |
//! | `metrics` | `metricsNew`, `metricsFree`, `metricsRecord`, `metricsRecordAt`, `metricsSnapshot`, `metricsNames` |
//! | `w3c` | `w3c` (operations: `W3cOp`) |

// Input-dependent unwraps are not allowed; tests may unwrap.
#![warn(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod envelope;
mod guard;
mod headers;
mod metrics;
mod model;
mod plumbing;
mod w3c;

#[cfg(test)]
mod tests {
    use tracewire_bridge::{Coded, ModelEvent};

    /// The value of `public static final int NAME = value;` in `Native.java`.
    fn java_constant(java: &str, name: &str) -> Option<i32> {
        let decl = format!("public static final int {name} = ");
        let at = java.find(&decl)? + decl.len();
        java[at..].split(';').next()?.trim().parse().ok()
    }

    #[test]
    fn operation_numbers_match_the_java_constants() {
        let path = concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../src/main/java/dev/tracewire/internal/Native.java"
        );
        let java = std::fs::read_to_string(path).unwrap();
        for (op, name) in crate::w3c::W3cOp::ALL {
            assert_eq!(java_constant(&java, name), Some(op as i32), "{name}");
        }
        for e in ModelEvent::ALL {
            let name = format!("MODEL_{}", e.name().to_uppercase());
            assert_eq!(
                java_constant(&java, &name),
                Some(i32::from(e.code())),
                "{name}"
            );
        }
    }
}
