//! The authority of a request as a per-host breaker keys it: scheme, host
//! and port, the port defaulted from the scheme, names compared without
//! regard to ASCII case, IP literals by address. Borrowed from the URI for
//! a lookup (no allocation), owned in the map.

use std::fmt;
use std::hash::{Hash, Hasher};
use std::net::{IpAddr, Ipv6Addr};

use http::Uri;

/// The host of an authority: a name, compared without regard to ASCII
/// case, or an IP literal, compared by address (`[::1]` and
/// `[0:0:0:0:0:0:0:1]` are one origin).
#[derive(Debug, Clone, Copy)]
enum HostRef<'a> {
    Name(&'a str),
    Ip(IpAddr),
}

impl<'a> HostRef<'a> {
    /// `host` as `Uri::host` gives it: an IPv6 literal in brackets.
    fn of(host: &'a str) -> HostRef<'a> {
        let ip = match host.strip_prefix('[').and_then(|h| h.strip_suffix(']')) {
            Some(v6) => v6.parse::<Ipv6Addr>().ok().map(IpAddr::V6),
            // Only std's one dotted-quad form parses; anything else is a
            // name (as `127.1` is to the URI grammar).
            None if host.starts_with(|c: char| c.is_ascii_digit()) => host.parse().ok(),
            None => None,
        };
        ip.map_or(HostRef::Name(host), HostRef::Ip)
    }

    fn matches(&self, key: &HostKey) -> bool {
        match (self, key) {
            (HostRef::Name(a), HostKey::Name(b)) => a.eq_ignore_ascii_case(b),
            (HostRef::Ip(a), HostKey::Ip(b)) => a == b,
            _ => false,
        }
    }

    fn to_key(self) -> HostKey {
        match self {
            HostRef::Name(name) => HostKey::Name(Box::from(name.to_ascii_lowercase())),
            HostRef::Ip(ip) => HostKey::Ip(ip),
        }
    }
}

impl Hash for HostRef<'_> {
    fn hash<H: Hasher>(&self, state: &mut H) {
        match self {
            HostRef::Name(name) => {
                state.write_u8(1);
                for b in name.bytes() {
                    state.write_u8(b.to_ascii_lowercase());
                }
            }
            HostRef::Ip(ip) => {
                state.write_u8(2);
                ip.hash(state);
            }
        }
    }
}

/// A [`HostRef`] kept in the map: a name lower-cased.
#[derive(Debug)]
enum HostKey {
    Name(Box<str>),
    Ip(IpAddr),
}

impl fmt::Display for HostKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            HostKey::Name(name) => f.write_str(name),
            HostKey::Ip(IpAddr::V4(ip)) => write!(f, "{ip}"),
            // The canonical text (RFC 5952), in brackets as in a URI.
            HostKey::Ip(IpAddr::V6(ip)) => write!(f, "[{ip}]"),
        }
    }
}

/// The authority of a request, borrowed from its URI: `scheme` as it
/// appears (compared without regard to ASCII case), the host, and the port
/// defaulted from the scheme (`http`: 80, `https`: 443). All `None` for a
/// request without an authority. Looked up without allocating.
#[derive(Debug, Clone, Copy)]
pub(crate) struct AuthorityRef<'a> {
    scheme: Option<&'a str>,
    host: Option<HostRef<'a>>,
    port: Option<u16>,
}

impl<'a> AuthorityRef<'a> {
    pub(crate) fn of(uri: &'a Uri) -> AuthorityRef<'a> {
        let Some(host) = uri.host() else {
            return AuthorityRef {
                scheme: None,
                host: None,
                port: None,
            };
        };
        let scheme = uri.scheme_str();
        let port = uri.port_u16().or_else(|| match scheme {
            Some(s) if s.eq_ignore_ascii_case("http") => Some(80),
            Some(s) if s.eq_ignore_ascii_case("https") => Some(443),
            _ => None,
        });
        AuthorityRef {
            scheme,
            host: Some(HostRef::of(host)),
            port,
        }
    }

    pub(crate) fn matches(&self, key: &AuthorityKey) -> bool {
        let scheme = match (self.scheme, key.scheme.as_deref()) {
            (Some(a), Some(b)) => a.eq_ignore_ascii_case(b),
            (a, b) => a.is_none() && b.is_none(),
        };
        let host = match (&self.host, &key.host) {
            (Some(a), Some(b)) => a.matches(b),
            (a, b) => a.is_none() && b.is_none(),
        };
        self.port == key.port && host && scheme
    }

    /// The owned key, lower-cased.
    pub(crate) fn to_key(self) -> AuthorityKey {
        AuthorityKey {
            scheme: self.scheme.map(|s| Box::from(s.to_ascii_lowercase())),
            host: self.host.map(HostRef::to_key),
            port: self.port,
        }
    }
}

impl Hash for AuthorityRef<'_> {
    fn hash<H: Hasher>(&self, state: &mut H) {
        match self.scheme {
            Some(s) => {
                state.write_u8(1);
                for b in s.bytes() {
                    state.write_u8(b.to_ascii_lowercase());
                }
                // A terminator, so ("ab", "c") and ("a", "bc") differ.
                state.write_u8(0xff);
            }
            None => state.write_u8(0),
        }
        match &self.host {
            Some(host) => host.hash(state),
            None => state.write_u8(0),
        }
        self.port.hash(state);
    }
}

/// An [`AuthorityRef`] kept in the map: lower-cased.
#[derive(Debug)]
pub(crate) struct AuthorityKey {
    scheme: Option<Box<str>>,
    host: Option<HostKey>,
    port: Option<u16>,
}

impl fmt::Display for AuthorityKey {
    /// `scheme://host:port`; empty without an authority.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some(scheme) = &self.scheme {
            write!(f, "{scheme}://")?;
        }
        if let Some(host) = &self.host {
            write!(f, "{host}")?;
        }
        if let Some(port) = self.port {
            write!(f, ":{port}")?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use std::collections::hash_map::RandomState;
    use std::hash::BuildHasher;

    use super::*;

    fn key(uri: &str) -> String {
        AuthorityRef::of(&uri.parse().unwrap()).to_key().to_string()
    }

    fn same(a: &str, b: &str) -> bool {
        let (a, b): (Uri, Uri) = (a.parse().unwrap(), b.parse().unwrap());
        let s = RandomState::new();
        let (va, vb) = (AuthorityRef::of(&a), AuthorityRef::of(&b));
        let matched = va.matches(&vb.to_key());
        assert_eq!(matched, s.hash_one(va) == s.hash_one(vb), "{a} {b}");
        matched
    }

    #[test]
    fn keys_default_the_port_and_ignore_case() {
        assert_eq!(key("http://a.example/x"), "http://a.example:80");
        assert_eq!(key("HTTPS://A.Example/"), "https://a.example:443");
        assert_eq!(key("http://[::1]:8080/"), "http://[::1]:8080");
        assert_eq!(key("/just/a/path"), "");
        assert!(same("http://a", "http://a:80"));
        assert!(same("https://A:443/x?y", "https://a/z"));
        assert!(!same("http://a", "https://a"));
        assert!(!same("http://a", "http://a:81"));
        assert!(!same("http://a", "http://b"));
        assert!(!same("http://ab", "http://a"));
        assert!(same("/x", "/y"));
        assert!(!same("/x", "http://a"));
    }

    #[test]
    fn ip_literals_are_compared_by_address() {
        assert!(same("http://[::1]:8080", "http://[0:0:0:0:0:0:0:1]:8080/x"));
        assert!(same("http://[::1]", "http://[::1]:80"));
        assert!(same(
            "http://[2001:DB8::A]",
            "http://[2001:db8:0:0:0:0:0:a]"
        ));
        assert_eq!(
            key("http://[0:0:0:0:0:0:0:1]:8080/"),
            "http://[::1]:8080",
            "the canonical text (RFC 5952)"
        );
        assert_eq!(
            key("https://[2001:DB8:0:0::1]/"),
            "https://[2001:db8::1]:443"
        );
        assert!(!same("http://[::1]", "http://[::2]"));
        assert!(!same("http://[::1]", "http://127.0.0.1"));
        assert_eq!(key("http://127.0.0.1:8080"), "http://127.0.0.1:8080");
        assert!(same("http://127.0.0.1", "http://127.0.0.1:80"));
        // A name that only looks numeric stays a name.
        assert_eq!(key("http://1.example/"), "http://1.example:80");
    }
}
