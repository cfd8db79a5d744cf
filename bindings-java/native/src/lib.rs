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
//! - Handles (`jsonNew`, `metricsNew`, `budgetNew`) are `Box` pointers owned by one Java
//!   object each; the Java side frees them exactly once.
//!
//! | module | entry points |
//! |---|---|
//! | `guard` | (none) the error policy, the guard, the direct-buffer contract |
//! | `plumbing` | `address`, `fieldName`, `errorName`, `noop`, `testingPanic`, `testingError` |
//! | `headers` | `extract`, `inject`, `serverHandshake`, `clientRequest`, `clientNegotiation`, `newSessionId`, `extractFields`, `injectTraceParent`, `extractTraceParent` |
//! | `envelope` | `jsonNew`, `jsonFree`, `jsonInject`, `jsonExtract`, `binaryEncode`, `binaryDecode`, `toCarrier`, `fromCarrier` |
//! | `codec` | `codecNew`, `codecFree`, `codecEncode`, `codecDecode`, `stripByDefault` |
//! | `target` | `targetFromUrl`, `targetFromRequest` |
//! | `model` | `modelParse`, `modelDecide` (events: `ModelEvent`), `modelChoose` |
//! | `trust` | `trustAdmit`, `trustSessionId`, `budgetNew`, `budgetFree`, `budgetAdmit`, `budgetSkipped` |
//! | `metrics` | `metricsNew`, `metricsFree`, `metricsRecord`, `metricsRecordAt`, `metricsSnapshot`, `metricsNames` |
//! | `w3c` | `w3c` (operations: `W3cOp`) |

// Input-dependent unwraps are not allowed; tests may unwrap.
#![warn(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod codec;
mod envelope;
mod guard;
mod headers;
mod metrics;
mod model;
mod plumbing;
mod target;
mod trust;
mod w3c;

#[cfg(test)]
mod tests {
    use tracewire::StreamKind;
    use tracewire::model::{LinkSource, ParentSource, SpanKind};
    use tracewire_bridge::{Coded, ModelEvent};

    /// A Java source file of the binding.
    fn java(path: &str) -> String {
        let dir = concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../src/main/java/dev/tracewire/"
        );
        std::fs::read_to_string(format!("{dir}{path}")).unwrap()
    }

    /// The upper-case identifiers between `start` and the next `end`, in
    /// order, comments skipped: an enum's constants or an array's elements.
    fn java_list(src: &str, start: &str, end: char, prefix: &str) -> Vec<String> {
        let at = src
            .find(start)
            .unwrap_or_else(|| panic!("{start} not found"))
            + start.len();
        let body = &src[at..at + src[at..].find(end).unwrap()];
        body.lines()
            .map(str::trim)
            .filter(|l| !(l.starts_with("/*") || l.starts_with('*') || l.starts_with("//")))
            .flat_map(|l| l.split(','))
            .map(|t| t.trim().trim_start_matches(prefix).trim_end_matches(';'))
            .filter(|t| !t.is_empty())
            .map(str::to_owned)
            .collect()
    }

    fn upper<T: Coded>() -> Vec<String> {
        T::ALL.iter().map(|v| v.name().to_uppercase()).collect()
    }

    #[test]
    fn java_reads_enums_in_the_bridge_order() {
        let model = java("ConnectionModel.java");
        assert_eq!(
            java_list(&model, "KINDS = {", '}', "SpanKind."),
            upper::<SpanKind>()
        );
        assert_eq!(
            java_list(&model, "LINKS = {", '}', "SpanDecision.Source."),
            upper::<LinkSource>()
        );
        assert_eq!(
            java_list(&java("SpanDecision.java"), "enum Source {", '}', ""),
            upper::<ParentSource>()
        );
        assert_eq!(
            java_list(&java("StreamMetrics.java"), "enum Kind {", '}', ""),
            upper::<StreamKind>()
        );
    }

    #[test]
    fn java_mirrors_the_other_bridge_tables() {
        use tracewire::model::{BaggageSource, MessageType, Model, Parent, Role};
        use tracewire_bridge::DecodedKind;
        let applied = java("Applied.java");
        assert_eq!(
            java_list(&applied, "enum Parent {", '}', ""),
            upper::<Parent>()
        );
        assert_eq!(
            java_list(&applied, "enum Baggage {", '}', ""),
            upper::<BaggageSource>()
        );
        assert_eq!(
            java_list(&java("Decoded.java"), "enum Kind {", '}', ""),
            upper::<DecodedKind>()
        );
        assert_eq!(
            java_list(&java("MessageType.java"), "enum MessageType {", '}', ""),
            upper::<MessageType>()
        );
        assert_eq!(
            java_list(&java("TracingModel.java"), "enum TracingModel {", ';', ""),
            upper::<Model>()
        );
        assert_eq!(
            java_list(&java("ConnectionModel.java"), "enum Role {", '}', ""),
            upper::<Role>()
        );
    }

    #[test]
    fn java_error_codes_are_the_cores() {
        let src = java("ErrorCode.java");
        let body = &src[src.find("enum ErrorCode {").unwrap()..];
        let body = &body[..body.find(';').unwrap()];
        let java: Vec<(String, u32)> = body
            .lines()
            .map(str::trim)
            .filter_map(|l| {
                let (name, rest) = l.split_once('(')?;
                let code = rest.split_once(')')?.0.parse().ok()?;
                Some((name.to_lowercase(), code))
            })
            .collect();
        let core: Vec<(String, u32)> = tracewire::ErrorCode::ALL
            .iter()
            .map(|c| (c.name().to_owned(), c.as_u32()))
            .collect();
        assert_eq!(java, core);
    }

    #[test]
    fn bit_sets_match_the_java_constants() {
        let java = java("internal/Native.java");
        for (i, fact) in tracewire_bridge::AVAILABLE_BITS.iter().enumerate() {
            let name = format!("AVAILABLE_{}", fact.to_uppercase());
            assert_eq!(java_constant(&java, &name), Some(1 << i), "{name}");
        }
        assert_eq!(
            java_constant(&java, "ENVELOPE_JSON"),
            Some(tracewire_bridge::ENVELOPE_JSON as i32)
        );
        assert_eq!(
            java_constant(&java, "ENVELOPE_BINARY"),
            Some(tracewire_bridge::ENVELOPE_BINARY as i32)
        );
        // The packed `Applied`: every field set, read back with Java's masks.
        let packed = tracewire_bridge::pack_applied(tracewire::model::Applied {
            parent: tracewire::model::Parent::NewTrace,
            link_connection: true,
            link_remote: false,
            baggage: tracewire::model::BaggageSource::None,
        }) as i32;
        let mask = java_constant(&java, "APPLIED_CODE_MASK").unwrap();
        let shift = java_constant(&java, "APPLIED_BAGGAGE_SHIFT").unwrap();
        assert_eq!(packed & mask, 3);
        assert_eq!((packed >> shift) & mask, 3);
        assert_eq!(
            Some(packed & !(mask | mask << shift)),
            java_constant(&java, "APPLIED_LINK_CONNECTION")
        );
        let remote_only = tracewire_bridge::pack_applied(tracewire::model::Applied {
            link_connection: false,
            link_remote: true,
            ..tracewire::model::Applied {
                parent: tracewire::model::Parent::Remote,
                link_connection: false,
                link_remote: false,
                baggage: tracewire::model::BaggageSource::Remote,
            }
        }) as i32;
        assert_eq!(
            Some(remote_only),
            java_constant(&java, "APPLIED_LINK_REMOTE")
        );
    }

    #[test]
    fn trust_enums_and_preset_match_the_core() {
        use tracewire::model::{RemoteContext, UNTRUSTED_MAX_RECEIVE_SPANS};
        use tracewire_bridge::BaggagePolicyKind;
        let trust = java("Trust.java");
        assert_eq!(
            java_list(&trust, "enum RemoteContext {", '}', ""),
            upper::<RemoteContext>()
        );
        assert_eq!(
            java_list(&trust, "enum BaggagePolicy {", '}', ""),
            upper::<BaggagePolicyKind>()
        );
        let decl = "public static final long UNTRUSTED_MAX_RECEIVE_SPANS = ";
        let at = trust.find(decl).unwrap() + decl.len();
        let java_value: u32 = trust[at..]
            .split(';')
            .next()
            .unwrap()
            .trim()
            .parse()
            .unwrap();
        assert_eq!(java_value, UNTRUSTED_MAX_RECEIVE_SPANS);
    }

    #[test]
    fn cache_bounds_match_the_java_constants() {
        use tracewire::limits;
        let java = java("internal/Native.java");
        for (name, core) in [
            ("CACHE_ENTRIES", limits::CACHE_ENTRIES),
            ("CACHE_MAX_KEY_BYTES", limits::CACHE_MAX_KEY_BYTES),
        ] {
            assert_eq!(
                java_constant(&java, name),
                i32::try_from(core).ok(),
                "{name}"
            );
        }
    }

    #[test]
    fn websocket_limits_match_the_java_constants() {
        use tracewire::limits;
        let java = java("internal/Native.java");
        let int = |n: usize| i32::try_from(n).ok();
        let cases = [
            ("WS_MAX_MESSAGE_SIZE", int(limits::WS_MAX_MESSAGE_SIZE)),
            ("WS_MAX_FRAME_SIZE", int(limits::WS_MAX_FRAME_SIZE)),
            ("WS_WRITE_BUFFER_SIZE", int(limits::WS_WRITE_BUFFER_SIZE)),
            (
                "WS_MAX_WRITE_BUFFER_SIZE",
                int(limits::WS_MAX_WRITE_BUFFER_SIZE),
            ),
            (
                "WS_HANDSHAKE_TIMEOUT_MILLIS",
                i32::try_from(limits::WS_HANDSHAKE_TIMEOUT.as_millis()).ok(),
            ),
        ];
        for (name, core) in cases {
            assert!(core.is_some(), "{name} does not fit a Java int");
            assert_eq!(java_constant(&java, name), core, "{name}");
        }
    }

    /// The value of `public static final int NAME = value;` in `Native.java`.
    fn java_constant(java: &str, name: &str) -> Option<i32> {
        let decl = format!("public static final int {name} = ");
        let at = java.find(&decl)? + decl.len();
        java[at..].split(';').next()?.trim().parse().ok()
    }

    #[test]
    fn operation_numbers_match_the_java_constants() {
        let java = java("internal/Native.java");
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
