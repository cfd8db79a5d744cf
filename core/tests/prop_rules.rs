//! Properties of the rules bindings apply: no input makes them panic, and
//! what they produce has the shape the protocol promises.

use proptest::prelude::*;
use tracewire::envelope::codec::Codec;
use tracewire::envelope::json::JsonEnvelope;
use tracewire::handshake::Envelopes;
use tracewire::model::{MessageType, ParentSource, choose};
use tracewire::target::{Scheme, Target};
use tracewire::{TraceContext, TraceParent};

fn ctx() -> TraceContext {
    TraceContext {
        traceparent: TraceParent::parse("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01")
            .ok(),
        ..Default::default()
    }
}

proptest! {
    #[test]
    fn a_target_path_is_rooted_and_has_no_query(
        url in "(ws|wss|http)://[a-zA-Z0-9.:\\[\\]@%-]{0,20}(/[ -~é]{0,20})?",
        host in proptest::option::of("[ -~]{0,20}"),
    ) {
        for target in [
            Target::from_url(&url).ok(),
            Target::from_request(None, host.as_deref(), &url).ok(),
            Some(Target::from_request_lenient(Some(Scheme::Wss), host.as_deref(), &url)),
        ]
        .into_iter()
        .flatten()
        {
            prop_assert!(target.path.starts_with('/'), "{target:?}");
            prop_assert!(target.path.bytes().all(|b| b.is_ascii_graphic()), "{target:?}");
            prop_assert!(!target.path.contains(['?', '#']), "{target:?}");
        }
    }

    #[test]
    fn the_codec_hands_back_what_was_sent(payload in proptest::collection::vec(any::<u8>(), 0..64),
                                          text in "[ -~]{0,32}") {
        let codec = Codec::new(Envelopes::ALL, JsonEnvelope::default());
        let wire = codec.encode(MessageType::Binary, &payload, &ctx());
        let mut reused = vec![0xAA; 3];
        prop_assert!(codec.encode_into(MessageType::Binary, &payload, &ctx(), &mut reused));
        prop_assert_eq!(&reused[..], &wire[..]);
        let got = codec.decode(MessageType::Binary, &wire);
        prop_assert_eq!(got.payload(), &payload[..]);
        prop_assert_eq!(got.context().and_then(|c| c.traceparent), ctx().traceparent);
        // Text that is not an object, one that only starts like one (not
        // well-formed JSON: sent untouched), and a well-formed object.
        let plain = format!("x{text}");
        let broken = format!("{{{text}");
        let object = format!("{{\"t\":{}}}", serde_json::Value::String(text.clone()));
        for frame in [plain.as_bytes(), broken.as_bytes(), object.as_bytes()] {
            let wire = codec.encode(MessageType::Text, frame, &ctx());
            prop_assert!(std::str::from_utf8(&wire).is_ok());
            let mut reused = vec![0xAA; 3];
            let sent = codec.encode_into(MessageType::Text, frame, &ctx(), &mut reused);
            prop_assert_eq!(if sent { &reused[..] } else { frame }, &wire[..]);
            let decoded = codec.decode(MessageType::Text, &wire);
            prop_assert_eq!(decoded.payload(), frame);
        }
    }

    #[test]
    fn decoding_any_frame_never_panics(frame in proptest::collection::vec(any::<u8>(), 0..80)) {
        let codec = Codec::new(Envelopes::ALL, JsonEnvelope::default());
        for t in MessageType::ALL {
            let decoded = codec.decode(*t, &frame);
            if decoded.error().is_some() {
                prop_assert_eq!(decoded.payload(), &frame[..]);
            }
        }
    }

    #[test]
    fn choose_picks_a_listed_candidate_or_a_new_trace(bits in any::<u8>(), order in 0usize..24) {
        use tracewire::model::{Available, LinkSource, Parent};
        let all = ParentSource::ALL;
        // One of the 24 orders of the four candidates, taken as a prefix.
        let mut candidates: Vec<ParentSource> = all.to_vec();
        candidates.rotate_left(order % 4);
        candidates.truncate(1 + order / 6);
        let a = Available {
            remote_has_span: bits & 1 != 0,
            remote_has_baggage: bits & 2 != 0,
            ambient_has_span: bits & 4 != 0,
            ambient_in_connection_trace: bits & 8 != 0,
            ambient_is_connection: bits & 16 != 0,
            connection_has_span: bits & 32 != 0,
        };
        let applied = choose(&candidates, &[LinkSource::Connection], a);
        let listed = match applied.parent {
            Parent::Remote => candidates.contains(&ParentSource::Remote),
            Parent::Ambient => candidates.contains(&ParentSource::Ambient)
                || candidates.contains(&ParentSource::AmbientInConnectionTrace),
            Parent::Connection => candidates.contains(&ParentSource::Connection),
            Parent::NewTrace => true,
        };
        prop_assert!(listed);
        prop_assert!(!(applied.link_connection && applied.parent == Parent::Connection));
        prop_assert!(!applied.link_connection || a.connection_has_span);
    }
}
