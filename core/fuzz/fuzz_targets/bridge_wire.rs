#![no_main]
//! The bridge's byte format readers (`tracewire_bridge::wire::Reader`), as
//! the JNI adapter runs them on bytes from Java. Input: a selector byte,
//! then the record.
//!
//! 0. attributes: a block that reads is canonical (written again with the
//!    format's primitives it is the bytes read);
//! 1. context record: a context that reads is valid; written and read again
//!    it is the same context and the same bytes (a fixed point); injected
//!    as headers it extracts back as a receiver sees it;
//! 2. baggage member: written and read again, the same member;
//! 3. decision candidates, as `modelChoose` reads them: codes decode
//!    strictly and encode back; `choose` picks only an available parent,
//!    links the connection only when asked and available, and its packed
//!    form decodes back;
//! 4. the `modelDecide` input: the decision the core makes is written and
//!    reads back completely with the reader's primitives.
//!
//! Nothing may panic and nothing may allocate far beyond the input
//! (counts are untrusted: `with_capacity` is capped).
use libfuzzer_sys::fuzz_target;
use tracewire::handshake;
use tracewire::model::{
    BaggageSource, Connection, LinkSource, MessageType, Model, Parent, ParentSource, RemoteContext,
    Role, SpanDecision, SpanKind, choose,
};
use tracewire::{KeyValue, Value};
use tracewire_bridge::wire::{Reader, Writer};
use tracewire_bridge::{Coded, ModelEvent, ValueTag, available_from_bits, pack_applied};
use tracewire_fuzz::{check_context, received};

fn write_value(w: &mut Writer, v: &Value) {
    w.coded(ValueTag::of(v));
    match v {
        Value::String(s) => w.str(s),
        Value::Int(i) => w.i64(*i),
        Value::Float(f) => w.f64(*f),
        Value::Bool(b) => w.u8(u8::from(*b)),
    }
}

fn same_attributes(r: &mut Reader<'_>, want: &[KeyValue]) {
    let got = r.attributes().expect("written attributes read back");
    assert_eq!(got.len(), want.len());
    for ((k, v), kv) in got.iter().zip(want) {
        assert_eq!(*k, kv.key);
        let (mut a, mut b) = (Writer::from_vec(Vec::new()), Writer::from_vec(Vec::new()));
        write_value(&mut a, v);
        write_value(&mut b, &kv.value);
        assert_eq!(a.out, b.out);
    }
}

fn same_decision(r: &mut Reader<'_>, d: &SpanDecision) {
    assert!(!d.name.is_empty());
    assert_eq!(r.str().expect("name"), d.name);
    assert_eq!(r.coded::<SpanKind>().expect("kind"), d.kind);
    let n = r.u32().expect("parents") as usize;
    assert_eq!(n, d.parent.len());
    for p in d.parent {
        assert_eq!(r.coded::<ParentSource>().expect("parent"), *p);
    }
    let n = r.u32().expect("links") as usize;
    assert_eq!(n, d.links.len());
    for l in d.links {
        assert_eq!(r.coded::<LinkSource>().expect("link"), *l);
    }
    same_attributes(r, &d.attributes);
}

/// The `modelDecide` input record.
struct Decide<'a> {
    model: Model,
    role: Role,
    session: &'a str,
    path: &'a str,
    has_address: bool,
    address: &'a str,
    port: i32,
    event: ModelEvent,
    mt: MessageType,
    size: usize,
    code: i32,
    reason: &'a str,
    remote_context: RemoteContext,
    skipped: u64,
    route: &'a str,
}

impl<'a> Decide<'a> {
    /// Field by field as `Java_dev_tracewire_internal_Native_modelDecide` reads them.
    fn read(r: &mut Reader<'a>) -> tracewire_bridge::Result<Self> {
        Ok(Decide {
            model: r.coded()?,
            role: r.coded()?,
            session: r.str()?,
            path: r.str()?,
            has_address: r.u8()? != 0,
            address: r.str()?,
            port: r.i32()?,
            event: r.coded()?,
            mt: r.coded()?,
            size: usize::try_from(r.i64()?).unwrap_or(0),
            code: r.i32()?,
            reason: r.str()?,
            remote_context: r.coded()?,
            skipped: u64::try_from(r.i64()?).unwrap_or(0),
            route: r.str()?,
        })
    }
}

fn strict<T: Coded + std::fmt::Debug>(code: u8) -> Option<T> {
    let v = T::from_code(u32::from(code)).ok()?;
    assert_eq!(v.code(), code);
    Some(v)
}

fuzz_target!(|data: &[u8]| {
    let Some((&sel, input)) = data.split_first() else {
        return;
    };
    let mut r = Reader::new(input);
    match sel % 5 {
        0 => {
            let Ok(attrs) = r.attributes() else { return };
            let mut w = Writer::from_vec(Vec::new());
            w.len(attrs.len());
            for (k, v) in &attrs {
                w.str(k);
                write_value(&mut w, v);
            }
            assert!(
                input.starts_with(&w.out),
                "the attributes block is not canonical"
            );
        }
        1 => {
            let Ok(ctx) = r.context() else { return };
            check_context(&ctx);
            let mut w = Writer::from_vec(Vec::new());
            w.context(&ctx);
            let mut r2 = Reader::new(&w.out);
            let again = r2.context().expect("a written context reads back");
            assert!(r2.is_empty());
            assert_eq!(again, ctx);
            let mut w2 = Writer::from_vec(Vec::new());
            w2.context(&again);
            assert_eq!(w2.out, w.out, "not a fixed point");
            // What the JNI inject does with it.
            let mut headers: Vec<(String, String)> = Vec::new();
            handshake::inject(&ctx, &mut headers);
            assert_eq!(handshake::extract(&headers, None).0, received(&ctx));
        }
        2 => {
            let Ok(m) = r.member() else { return };
            let mut w = Writer::from_vec(Vec::new());
            w.member(&m);
            let mut r2 = Reader::new(&w.out);
            assert_eq!(r2.member().expect("a written member reads back"), m);
            assert!(r2.is_empty());
        }
        3 => {
            let Ok(np) = r.u32() else { return };
            let mut parent = Vec::new();
            for _ in 0..np.min(8) {
                let Ok(c) = r.u8() else { return };
                match strict::<ParentSource>(c) {
                    Some(p) => parent.push(p),
                    None => return,
                }
            }
            let Ok(nl) = r.u32() else { return };
            let mut links = Vec::new();
            for _ in 0..nl.min(8) {
                let Ok(c) = r.u8() else { return };
                match strict::<LinkSource>(c) {
                    Some(l) => links.push(l),
                    None => return,
                }
            }
            let Ok(bits) = r.u32() else { return };
            let Ok(a) = available_from_bits(bits) else {
                assert!(bits >> 6 != 0);
                return;
            };
            let applied = choose(&parent, &links, a);
            match applied.parent {
                Parent::Remote => {
                    assert!(a.remote_has_span && parent.contains(&ParentSource::Remote))
                }
                Parent::Ambient => assert!(a.ambient_has_span),
                Parent::Connection => assert!(a.connection_has_span),
                Parent::NewTrace => {}
            }
            if applied.link_connection {
                assert!(a.connection_has_span && links.contains(&LinkSource::Connection));
            }
            let packed = pack_applied(applied);
            assert_eq!(
                strict::<Parent>((packed & 0xff) as u8),
                Some(applied.parent)
            );
            assert_eq!(
                strict::<BaggageSource>((packed >> 8 & 0xff) as u8),
                Some(applied.baggage)
            );
            if applied.link_remote {
                assert!(a.remote_has_span && links.contains(&LinkSource::Remote));
            }
            assert_eq!(packed >> 16 & 1 != 0, applied.link_connection);
            assert_eq!(packed >> 17 & 1 != 0, applied.link_remote);
        }
        _ => {
            // Field by field as Java_dev_tracewire_internal_Native_modelDecide reads them.
            let Ok(d) = Decide::read(&mut r) else { return };
            let Decide {
                model,
                role,
                session,
                path,
                has_address,
                address,
                port,
                event,
                mt,
                size,
                code,
                reason,
                remote_context,
                skipped,
                route,
            } = d;
            let mut conn = Connection::new(model, role, session, path).with_route(route);
            conn.trust.remote_context = remote_context;
            if has_address {
                conn = conn.with_server(address, u16::try_from(port).ok());
            }
            let mut w = Writer::from_vec(Vec::new());
            match event {
                ModelEvent::Open => {
                    let d = conn.open();
                    w.span_decision(&d);
                    same_decision(&mut Reader::new(&w.out), &d);
                }
                ModelEvent::Send | ModelEvent::Receive => {
                    let d = if event == ModelEvent::Send {
                        conn.send(mt, size)
                    } else {
                        conn.receive(mt, size)
                    };
                    w.span_decision(&d);
                    same_decision(&mut Reader::new(&w.out), &d);
                }
                ModelEvent::Close => {
                    let d = conn
                        .close(u16::try_from(code).ok(), reason)
                        .with_receive_spans_skipped(skipped);
                    w.close_decision(&d);
                    let mut r2 = Reader::new(&w.out);
                    same_attributes(&mut r2, &d.attributes);
                    assert_eq!(r2.u8().expect("is_error"), u8::from(d.is_error));
                    match &d.span {
                        Some(s) => {
                            assert_eq!(r2.u8().expect("has span"), 1);
                            same_decision(&mut r2, s);
                        }
                        None => assert_eq!(r2.u8().expect("has span"), 0),
                    }
                    assert!(r2.is_empty());
                }
            }
        }
    }
});
