//! What a WebSocket URL says about the connection's spans: the
//! `server.address`, `server.port` and `url.path` attributes, and the path in
//! span names (`send /chat`).
//!
//! One answer for every language, client and server:
//!
//! - **address**: the host, ASCII-lowercased (host names are
//!   case-insensitive, RFC 3986 section 3.2.2), without the brackets of an
//!   IPv6 literal (`server.address` is an address, not a URL part) and
//!   without any `user:password@` (never recorded);
//! - **port**: the explicit port, else the scheme's default (`ws` 80,
//!   `wss` 443); unknown when neither is known (a server that does not know
//!   whether it sits behind TLS and got a `Host` without a port);
//! - **path**: the path as it travels in the request line, *not*
//!   percent-decoded (`/a%20b` stays `/a%20b`, so `/a%2Fb` and `/a/b` stay
//!   apart), without query and fragment, `/` when empty. Bytes that cannot
//!   appear in a request line (space, non-ASCII, `"<>\^`{|}`) are
//!   percent-encoded as UTF-8 the way clients put them on the wire; an
//!   existing `%` is kept as it is.
//!
//! ```
//! use tracewire::target::Target;
//! let t = Target::from_url("wss://[2001:DB8::1]/rooms/caf%C3%A9?token=x")?;
//! assert_eq!(t.address.as_deref(), Some("2001:db8::1"));
//! assert_eq!(t.port, Some(443));
//! assert_eq!(t.path, "/rooms/caf%C3%A9");
//! # Ok::<(), tracewire::target::UrlError>(())
//! ```

use crate::error::ErrorCode;

/// The scheme of a WebSocket URL (RFC 6455 section 3).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Scheme {
    /// `ws`: plain TCP, default port 80.
    Ws,
    /// `wss`: TLS, default port 443.
    Wss,
}

crate::names::names!(Scheme, "the scheme must be \"ws\" or \"wss\"", {
    Ws => "ws",
    Wss => "wss",
});

impl Scheme {
    /// The port used when the URL gives none.
    pub const fn default_port(self) -> u16 {
        match self {
            Scheme::Ws => 80,
            Scheme::Wss => 443,
        }
    }
}

/// Why a URL or request target cannot be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum UrlError {
    /// The URL has no `scheme://`, or its scheme is not `ws` or `wss`.
    #[error("the URL scheme must be ws or wss")]
    UnsupportedScheme,
    /// The URL has no host.
    #[error("the URL has no host")]
    MissingHost,
    /// The host holds a character no host can hold, or an IPv6 literal is
    /// not closed by `]`.
    #[error("the URL host is invalid: {0}")]
    InvalidHost(&'static str),
    /// The port is not a number from 0 to 65535.
    #[error("the URL port is not a number from 0 to 65535")]
    InvalidPort,
    /// The request target is neither a path (`/...`) nor an absolute URL, or
    /// holds a control character.
    #[error("the request target is invalid: {0}")]
    InvalidPath(&'static str),
}

impl UrlError {
    /// The stable error code.
    pub const fn code(&self) -> ErrorCode {
        ErrorCode::InvalidUrl
    }
}

/// The server address, port and path one connection's spans record.
///
/// [`Default`] is what is known when nothing is: no address, no port, path `/`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Target {
    /// `server.address`: the host, lowercase, IPv6 without brackets.
    pub address: Option<String>,
    /// `server.port`: explicit, else the scheme's default, if known.
    pub port: Option<u16>,
    /// `url.path` and the span-name target: raw (percent-encoded), no query,
    /// `/` when empty.
    pub path: String,
}

impl Default for Target {
    fn default() -> Self {
        Target {
            address: None,
            port: None,
            path: "/".to_owned(),
        }
    }
}

impl Target {
    /// Reads a client's `ws://` or `wss://` URL. The address and port are
    /// always known on success.
    pub fn from_url(url: &str) -> Result<Target, UrlError> {
        let (scheme, rest) = url.split_once("://").ok_or(UrlError::UnsupportedScheme)?;
        let scheme: Scheme = scheme.parse().map_err(|_| UrlError::UnsupportedScheme)?;
        let end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
        let (authority, path) = rest.split_at(end);
        let (address, port) = authority_parts(authority)?;
        Ok(Target {
            address: Some(address),
            port: Some(port.unwrap_or(scheme.default_port())),
            path: wire_path(path)?,
        })
    }

    /// Reads a server's view of the upgrade request: the scheme if the server
    /// knows it (whether it terminates TLS), the `Host` header if present,
    /// and the request target of the request line (a path such as
    /// `/chat?x=1`, or an absolute `ws://host/chat`, whose authority then
    /// wins over `Host` as RFC 9112 section 3.2.2 says).
    pub fn from_request(
        scheme: Option<Scheme>,
        host: Option<&str>,
        request_target: &str,
    ) -> Result<Target, UrlError> {
        if !request_target.starts_with('/') {
            let absolute = Target::from_url(request_target).map_err(|e| match e {
                UrlError::UnsupportedScheme => {
                    UrlError::InvalidPath("not a path and not an absolute ws or wss URL")
                }
                other => other,
            })?;
            return Ok(absolute);
        }
        let (address, port) = match host {
            Some(host) => {
                let (address, port) = authority_parts(host)?;
                (Some(address), port.or(scheme.map(Scheme::default_port)))
            }
            None => (None, None),
        };
        Ok(Target {
            address,
            port,
            path: wire_path(request_target)?,
        })
    }
}

impl Target {
    /// [`from_request`](Self::from_request) for a server that must trace
    /// whatever its HTTP stack accepted: a `Host` it cannot read is left out
    /// (no address, no port), and a request target it cannot read gives `/`.
    pub fn from_request_lenient(
        scheme: Option<Scheme>,
        host: Option<&str>,
        request_target: &str,
    ) -> Target {
        Target::from_request(scheme, host, request_target)
            .or_else(|_| Target::from_request(scheme, None, request_target))
            .unwrap_or_default()
    }
}

/// The path in span names and `url.path` for a path given directly (the
/// bindings' older `Connection::new` callers): `/` when empty.
pub(crate) fn path_or_root(path: &str) -> &str {
    if path.is_empty() { "/" } else { path }
}

/// `[userinfo@]host[:port]` into the lowercase host (IPv6 unbracketed) and
/// the explicit port, if any.
fn authority_parts(authority: &str) -> Result<(String, Option<u16>), UrlError> {
    let host_port = authority
        .rsplit_once('@')
        .map_or(authority, |(_userinfo, hp)| hp);
    let (host, port) = if let Some(inner) = host_port.strip_prefix('[') {
        let (literal, after) = inner
            .split_once(']')
            .ok_or(UrlError::InvalidHost("an IPv6 literal is not closed by ]"))?;
        if literal.is_empty() || !literal.bytes().all(is_ip_literal_byte) {
            return Err(UrlError::InvalidHost("not an IPv6 literal"));
        }
        let port = match after {
            "" => None,
            _ => Some(after.strip_prefix(':').ok_or(UrlError::InvalidPort)?),
        };
        (literal, port)
    } else {
        let (host, port) = match host_port.split_once(':') {
            Some((host, port)) => (host, Some(port)),
            None => (host_port, None),
        };
        if !host.bytes().all(is_reg_name_byte) {
            // A second ':' lands here too: an IPv6 address needs brackets.
            return Err(UrlError::InvalidHost(
                "a character outside the host grammar (IPv6 needs [brackets])",
            ));
        }
        (host, port)
    };
    if host.is_empty() {
        return Err(UrlError::MissingHost);
    }
    let port = match port {
        // RFC 3986 allows an empty port: it means the default.
        None | Some("") => None,
        Some(p) if p.bytes().all(|b| b.is_ascii_digit()) => {
            Some(p.parse().map_err(|_| UrlError::InvalidPort)?)
        }
        Some(_) => return Err(UrlError::InvalidPort),
    };
    Ok((host.to_ascii_lowercase(), port))
}

/// RFC 3986 reg-name: unreserved, percent-encoded and sub-delims.
fn is_reg_name_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b"-._~%!$&'()*+,;=".contains(&b)
}

/// An IPv6 (or IPvFuture) literal, with an RFC 6874 zone id.
fn is_ip_literal_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b":.%-_~".contains(&b)
}

/// The path part of a URL or request target (from its first byte up to `?`
/// or `#`), as it goes on the wire; `/` when empty.
fn wire_path(path_and_more: &str) -> Result<String, UrlError> {
    let path = &path_and_more[..path_and_more
        .find(['?', '#'])
        .unwrap_or(path_and_more.len())];
    if path.bytes().any(|b| b.is_ascii_control()) {
        return Err(UrlError::InvalidPath("it holds a control character"));
    }
    const HEX: &[u8; 16] = b"0123456789ABCDEF";
    let mut out = String::with_capacity(path.len());
    for &b in path.as_bytes() {
        if b.is_ascii_graphic() && !b"\"<>\\^`{|}".contains(&b) {
            out.push(char::from(b));
        } else {
            out.push('%');
            out.push(char::from(HEX[usize::from(b >> 4)]));
            out.push(char::from(HEX[usize::from(b & 0xf)]));
        }
    }
    if out.is_empty() {
        return Ok(path_or_root(&out).to_owned());
    }
    Ok(out)
}
