//! The client's opening handshake (RFC 6455 section 4.1), done here rather
//! than by tungstenite's client, which fails a connection whenever it
//! offered subprotocols and the server selected none. A tracewire client
//! offers its tokens to every server, and a server that does not know
//! tracewire selecting nothing is the ordinary case (no envelopes,
//! docs/PROTOCOL.md section 3.3), not an error. Every other check of the
//! response is the RFC's.

use crate::limits::WS_HANDSHAKE_MAX_REQUEST_BYTES;
use http::{Request, Response, StatusCode, header};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio_tungstenite::WebSocketStream;
use tokio_tungstenite::tungstenite::error::{
    CapacityError, Error as WsError, ProtocolError, SubProtocolError,
};
use tokio_tungstenite::tungstenite::handshake::client::generate_request;
use tokio_tungstenite::tungstenite::handshake::derive_accept_key;
use tokio_tungstenite::tungstenite::protocol::{Role, WebSocketConfig};

/// The most headers a response may have (tungstenite's own bound).
const MAX_HEADERS: usize = 124;

/// A response as tokio-tungstenite returns it (the body: what followed a
/// refusal's head).
type UpgradeResponse = Response<Option<Vec<u8>>>;

/// Sends `request` (which carries `Sec-WebSocket-Key` and the offer) on
/// `stream`, reads and checks the response and returns the WebSocket with
/// the bytes that followed the response, and the response. A response other
/// than 101 is `WsError::Http`, with what followed its head as the body.
pub(super) async fn client<S>(
    mut stream: S,
    request: Request<()>,
    config: WebSocketConfig,
) -> Result<(WebSocketStream<S>, UpgradeResponse), WsError>
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    let offered = offered_subprotocols(&request);
    let (bytes, key) = generate_request(request)?;
    stream.write_all(&bytes).await?;
    stream.flush().await?;

    let mut buf = Vec::with_capacity(1024);
    let mut chunk = [0u8; 4096];
    let (head_len, mut response) = loop {
        let n = stream.read(&mut chunk).await?;
        if n == 0 {
            return Err(WsError::Protocol(ProtocolError::HandshakeIncomplete));
        }
        buf.extend_from_slice(&chunk[..n]);
        if let Some(parsed) = parse(&buf)? {
            break parsed;
        }
        if buf.len() > WS_HANDSHAKE_MAX_REQUEST_BYTES {
            return Err(WsError::Capacity(CapacityError::TooManyHeaders));
        }
    };
    let tail = buf.split_off(head_len);
    if response.status() != StatusCode::SWITCHING_PROTOCOLS {
        *response.body_mut() = Some(tail);
        return Err(WsError::Http(Box::new(response)));
    }
    verify(&response, &derive_accept_key(key.as_bytes()), &offered)?;
    let ws = WebSocketStream::from_partially_read(stream, tail, Role::Client, Some(config)).await;
    Ok((ws, response))
}

/// The subprotocols the request offers, in order.
fn offered_subprotocols(request: &Request<()>) -> Vec<String> {
    request
        .headers()
        .get_all(header::SEC_WEBSOCKET_PROTOCOL)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .map(|p| p.trim().to_owned())
        .filter(|p| !p.is_empty())
        .collect()
}

/// The response head in `buf` and its length, or `None` until it is whole.
fn parse(buf: &[u8]) -> Result<Option<(usize, UpgradeResponse)>, WsError> {
    let mut headers = [httparse::EMPTY_HEADER; MAX_HEADERS];
    let mut parsed = httparse::Response::new(&mut headers);
    let len = match parsed.parse(buf) {
        Ok(httparse::Status::Complete(len)) => len,
        Ok(httparse::Status::Partial) => return Ok(None),
        Err(httparse::Error::TooManyHeaders) => {
            return Err(WsError::Capacity(CapacityError::TooManyHeaders));
        }
        Err(e) => return Err(WsError::Protocol(ProtocolError::HttparseError(e))),
    };
    if parsed.version != Some(1) {
        return Err(WsError::Protocol(ProtocolError::WrongHttpVersion));
    }
    let mut response = Response::builder().status(parsed.code.unwrap_or_default());
    for h in parsed.headers.iter() {
        response = response.header(h.name, h.value);
    }
    let response = response.body(None).map_err(WsError::HttpFormat)?;
    Ok(Some((len, response)))
}

/// RFC 6455 section 4.1's checks of a 101 response, but a missing
/// `Sec-WebSocket-Protocol` is no error: the server selected nothing.
fn verify(response: &UpgradeResponse, accept_key: &str, offered: &[String]) -> Result<(), WsError> {
    let headers = response.headers();
    let has_token = |name: header::HeaderName, token: &str| {
        headers.get_all(name).iter().any(|v| {
            v.to_str()
                .is_ok_and(|v| v.split(',').any(|t| t.trim().eq_ignore_ascii_case(token)))
        })
    };
    if !has_token(header::UPGRADE, "websocket") {
        return Err(WsError::Protocol(
            ProtocolError::MissingUpgradeWebSocketHeader,
        ));
    }
    if !has_token(header::CONNECTION, "upgrade") {
        return Err(WsError::Protocol(
            ProtocolError::MissingConnectionUpgradeHeader,
        ));
    }
    if headers
        .get(header::SEC_WEBSOCKET_ACCEPT)
        .is_none_or(|v| v.as_bytes() != accept_key.as_bytes())
    {
        return Err(WsError::Protocol(
            ProtocolError::SecWebSocketAcceptKeyMismatch,
        ));
    }
    // No extension was offered, so none may be in use.
    if headers.contains_key(header::SEC_WEBSOCKET_EXTENSIONS) {
        return Err(WsError::Protocol(ProtocolError::InvalidHeader(Box::new(
            header::SEC_WEBSOCKET_EXTENSIONS,
        ))));
    }
    // A selection must be one value the client offered.
    let mut selected = headers.get_all(header::SEC_WEBSOCKET_PROTOCOL).iter();
    match (selected.next(), selected.next()) {
        (None, _) => Ok(()),
        (Some(one), None) if offered.iter().any(|o| o.as_bytes() == one.as_bytes()) => Ok(()),
        (Some(_), None) if offered.is_empty() => Err(WsError::Protocol(
            ProtocolError::SecWebSocketSubProtocolError(
                SubProtocolError::ServerSentSubProtocolNoneRequested,
            ),
        )),
        _ => Err(WsError::Protocol(
            ProtocolError::SecWebSocketSubProtocolError(SubProtocolError::InvalidSubProtocol),
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn response(lines: &str) -> UpgradeResponse {
        let raw = format!("HTTP/1.1 101 Switching Protocols\r\n{lines}\r\n");
        parse(raw.as_bytes()).expect("parses").expect("whole").1
    }

    const KEY: &str = "dGhlIHNhbXBsZSBub25jZQ==";
    // RFC 6455 section 1.3's example.
    const ACCEPT: &str = "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=";

    #[test]
    fn accept_key_is_the_rfc_example() {
        assert_eq!(derive_accept_key(KEY.as_bytes()), ACCEPT);
    }

    #[test]
    fn no_selection_is_no_error() {
        let ok = response(&format!(
            "Upgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: {ACCEPT}\r\n"
        ));
        assert!(verify(&ok, ACCEPT, &["tracewire.v1.json".to_owned()]).is_ok());
    }

    #[test]
    fn selection_must_be_offered() {
        let r = response(&format!(
            "Upgrade: websocket\r\nConnection: keep-alive, Upgrade\r\nSec-WebSocket-Accept: {ACCEPT}\r\nSec-WebSocket-Protocol: mcp\r\n"
        ));
        assert!(verify(&r, ACCEPT, &["mcp".to_owned()]).is_ok());
        assert!(verify(&r, ACCEPT, &["tracewire.v1.json".to_owned()]).is_err());
        assert!(verify(&r, ACCEPT, &[]).is_err());
    }

    #[test]
    fn rfc_checks_hold() {
        let wrong_key =
            response("Upgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: nope\r\n");
        assert!(verify(&wrong_key, ACCEPT, &[]).is_err());
        let no_upgrade = response(&format!(
            "Connection: Upgrade\r\nSec-WebSocket-Accept: {ACCEPT}\r\n"
        ));
        assert!(verify(&no_upgrade, ACCEPT, &[]).is_err());
        let extension = response(&format!(
            "Upgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: {ACCEPT}\r\nSec-WebSocket-Extensions: permessage-deflate\r\n"
        ));
        assert!(verify(&extension, ACCEPT, &[]).is_err());
    }

    #[test]
    fn partial_head_waits() {
        assert!(
            parse(b"HTTP/1.1 101 Switching")
                .expect("no error")
                .is_none()
        );
    }
}
