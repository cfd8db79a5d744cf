//! Budgets and limits that the shared vectors cannot express: the cost of
//! many updates, and the WebSocket limits of the traced client and server.

use std::time::{Duration, Instant};
use tracewire::{Baggage, BaggageMember, TraceState, limits};

/// The fastest of three runs of `work(n)`: the least disturbed by whatever
/// else the machine is doing.
fn fastest(n: usize, work: &impl Fn(usize)) -> Duration {
    (0..3)
        .map(|_| {
            let start = Instant::now();
            work(n);
            start.elapsed()
        })
        .min()
        .unwrap_or_default()
}

/// `work` is linear in `n`: four times the work takes about four times as
/// long, where a quadratic version takes sixteen. Compared within one run
/// rather than against a fixed time, so a slow or busy machine does not fail
/// it.
fn assert_linear(work: impl Fn(usize)) {
    const N: usize = 10_000;
    let small = fastest(N, &work);
    let large = fastest(4 * N, &work);
    assert!(
        large < small * 9,
        "{N} steps took {small:?}, {} took {large:?}: not linear",
        4 * N
    );
}

/// `n` inserts then `n` removals, interleaved with lookups. Each operation is
/// amortised O(1) (a key index, holes compacted once they outnumber
/// members); the quadratic version did ~1.6e9 key comparisons at 40,000 and
/// took over a second in release.
fn baggage_updates(n: usize) {
    let keys: Vec<String> = (0..n).map(|i| format!("k{i}")).collect();
    let mut bag = Baggage::new();
    for k in &keys {
        bag.insert(k, "v").expect("valid");
    }
    assert_eq!(bag.len(), n);
    // Replacing keeps the position, found through the index.
    bag.insert_member(BaggageMember::new("k0", "w"))
        .expect("valid");
    assert_eq!(bag.iter().next().map(|m| m.value.as_str()), Some("w"));
    for (i, k) in keys.iter().enumerate() {
        assert!(bag.get(k).is_some(), "{k}");
        if i % 2 == 1 {
            assert!(bag.remove(k).is_some());
        }
    }
    assert_eq!(bag.len(), n / 2);
    // Order survives removal and compaction.
    let firsts: Vec<&str> = bag.iter().take(3).map(|m| m.key.as_str()).collect();
    assert_eq!(firsts, ["k0", "k2", "k4"]);
    for k in keys.iter().step_by(2) {
        assert!(bag.remove(k).is_some());
    }
    assert!(bag.is_empty());
    assert_eq!(bag, Baggage::new());
}

#[test]
fn baggage_updates_are_linear() {
    assert_linear(baggage_updates);
}

/// Equality and serialisation ignore how the members got there.
#[test]
fn baggage_equality_ignores_removed_members() {
    let mut a = Baggage::new();
    for i in 0..40 {
        a.insert(&format!("k{i}"), "v").expect("valid");
    }
    for i in 2..40 {
        a.remove(&format!("k{i}"));
    }
    let b = Baggage::parse("k0=v,k1=v").expect("valid");
    assert_eq!(a, b);
    assert_eq!(a.to_header(), "k0=v,k1=v");
    assert_eq!(a.get("k5"), None);
}

/// A tracestate holds at most 32 entries, so each update copies at most
/// 32 entries: inserts and removals are linear in their count.
#[test]
fn tracestate_updates_are_linear() {
    assert_linear(|n| {
        let mut ts = TraceState::new();
        for i in 0..n {
            ts.insert(&format!("k{i}"), "v").expect("valid");
            if i % 3 == 0 {
                ts.remove(&format!("k{}", i / 2));
            }
        }
        assert!(ts.len() <= limits::TRACESTATE_MAX_MEMBERS);
        assert_eq!(
            ts.iter().next().map(|(k, _)| k.to_owned()),
            Some(format!("k{}", n - 1))
        );
    });
}

#[test]
fn raw_budgets_are_the_documented_numbers() {
    assert_eq!(limits::TRACEPARENT_MAX_LEN, 256);
    assert_eq!(limits::TRACESTATE_MAX_RAW, 17 * 1024);
    assert_eq!(limits::BAGGAGE_MAX_RAW, 16 * 1024);
    assert_eq!(limits::BAGGAGE_MAX_PROPERTIES, 16);
    assert_eq!(limits::BAGGAGE_MAX_MEMBERS, 64);
    assert_eq!(limits::BAGGAGE_MAX_BYTES, 8192);
    assert_eq!(limits::CARRIER_MAX_LEN, 33_828);
    assert_eq!(limits::WS_MAX_MESSAGE_SIZE, 1 << 20);
    assert_eq!(limits::WS_MAX_FRAME_SIZE, 1 << 20);
    assert_eq!(limits::WS_HANDSHAKE_TIMEOUT, Duration::from_secs(10));
    assert_eq!(limits::CACHE_ENTRIES, 8);
    assert_eq!(limits::CACHE_SHARED_SLOTS, 256);
    assert_eq!(limits::CACHE_MAX_KEY_BYTES, 1024);
    // The longest valid tracestate without whitespace fits the raw budget.
    const { assert!(32 * (256 + 1 + 256) + 31 <= limits::TRACESTATE_MAX_RAW) };
}

#[test]
fn a_built_member_over_the_properties_limit_stops_serialisation() {
    let mut bag = Baggage::parse("a=1").expect("valid");
    let mut m = BaggageMember::new("k", "v");
    m.properties = (0..=limits::BAGGAGE_MAX_PROPERTIES)
        .map(|i| (format!("p{i}"), None))
        .collect();
    bag.insert_member(m).expect("valid");
    bag.insert("z", "2").expect("valid");
    assert_eq!(bag.len(), 3);
    assert_eq!(bag.to_header(), "a=1");
}

#[cfg(feature = "tokio-tungstenite")]
mod ws_limits {
    use futures_util::{SinkExt, StreamExt};
    use std::time::{Duration, Instant};
    use tokio::net::TcpListener;
    use tokio_tungstenite::tungstenite::error::CapacityError;
    use tokio_tungstenite::tungstenite::{Error as WsError, Message};
    use tracewire::limits;
    use tracewire::ws::{self, Config, Limits};

    #[test]
    fn defaults_reach_tungstenite() {
        let c = Limits::default().websocket_config();
        assert_eq!(c.max_message_size, Some(limits::WS_MAX_MESSAGE_SIZE));
        assert_eq!(c.max_frame_size, Some(limits::WS_MAX_FRAME_SIZE));
        assert_eq!(c.write_buffer_size, limits::WS_WRITE_BUFFER_SIZE);
        assert_eq!(c.max_write_buffer_size, limits::WS_MAX_WRITE_BUFFER_SIZE);
        let config = Config::default()
            .max_message_size(Some(4096))
            .max_frame_size(None)
            .handshake_timeout(None);
        assert_eq!(config.get_limits().max_message_size, Some(4096));
        assert_eq!(config.get_limits().max_frame_size, None);
        assert_eq!(config.get_limits().handshake_timeout, None);
    }

    #[tokio::test]
    async fn accept_times_out_on_a_silent_client() {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let addr = listener.local_addr().expect("addr");
        // Connects and never sends a request.
        let _client = tokio::net::TcpStream::connect(addr).await.expect("connect");
        let (tcp, _) = listener.accept().await.expect("accept");
        let config = Config::default().handshake_timeout(Some(Duration::from_millis(200)));
        let start = Instant::now();
        let err = ws::accept(tcp, &config).await.expect_err("timeout");
        assert!(
            matches!(&err, WsError::Io(e) if e.kind() == std::io::ErrorKind::TimedOut),
            "{err:?}"
        );
        assert!(start.elapsed() < Duration::from_secs(5));
    }

    #[tokio::test]
    async fn connect_times_out_on_a_silent_server() {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let addr = listener.local_addr().expect("addr");
        // Accepts the TCP connection and never answers the upgrade.
        let hold = tokio::spawn(async move {
            let conn = listener.accept().await;
            tokio::time::sleep(Duration::from_secs(5)).await;
            drop(conn);
        });
        let config = Config::default().handshake_timeout(Some(Duration::from_millis(200)));
        let err = ws::connect(format!("ws://{addr}/"), &config)
            .await
            .expect_err("timeout");
        assert!(
            matches!(&err, WsError::Io(e) if e.kind() == std::io::ErrorKind::TimedOut),
            "{err:?}"
        );
        hold.abort();
    }

    /// The server refuses a message over its limit with a capacity error
    /// (the client's own limit does not apply to what it sends).
    #[tokio::test]
    async fn server_refuses_a_message_over_its_limit() {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let addr = listener.local_addr().expect("addr");
        let server = tokio::spawn(async move {
            let (tcp, _) = listener.accept().await.expect("accept");
            let config = Config::default()
                .max_message_size(Some(1024))
                .max_frame_size(Some(1024));
            let mut stream = ws::accept(tcp, &config).await.expect("handshake");
            let small = stream.next().await.expect("one").expect("fits");
            assert_eq!(small.message.len(), 1024);
            match stream.next().await {
                Some(Err(WsError::Capacity(CapacityError::MessageTooLong { .. }))) => {}
                other => panic!("{other:?}"),
            }
        });
        let (mut client, _) = ws::connect(format!("ws://{addr}/"), &Config::default())
            .await
            .expect("connect");
        // Binary frames get the 30-byte envelope prefix; text without JSON
        // goes as it is.
        client
            .send(Message::text("a".repeat(1024)))
            .await
            .expect("send");
        client
            .send(Message::text("a".repeat(1025)))
            .await
            .expect("send");
        server.await.expect("server");
    }
}
