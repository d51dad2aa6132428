//! Who is calling: the client address behind trusted proxies, and its country.
//!
//! The address decides IP allowlists, the audit log's address, `lastUsedIp` and the per-address
//! limit on failed authentications, so it is a security boundary. The rules:
//!
//! - Forwarding headers are read only when the TCP peer is itself a trusted proxy. A client that
//!   sends its own header directly is ignored.
//! - Exactly one header is read, the one the operator's proxy appends to
//!   ([`ClientIpHeader`], `--client-ip-header`, `X-Forwarded-For` by default). The other is
//!   ignored entirely: a proxy that appends to `X-Forwarded-For` passes a client's own
//!   `Forwarded` through untouched, so believing it would let the client name any address.
//! - The chain is walked from the right (the hop our proxy wrote) over trusted hops; the first
//!   hop that is not a trusted proxy is the client, and nothing to its left (the client's own
//!   text) is looked at.
//! - A hop that does not parse (`garbage`, `unknown`, an obfuscated `_node`, an element without
//!   `for=`) ends the walk and the request is refused ([`Unreadable`], 400
//!   `forwarded_header_invalid`): it never resolves to the peer, whose address may be inside the
//!   allowlists that cover the load balancer's network.
//! - When every hop is trusted, the left-most one is the client (an internal caller behind the
//!   load balancer). A trusted peer that sends no forwarding header at all is itself the client.

use axum::http::HeaderMap;
use ipnet::IpNet;
use std::fmt;
use std::net::IpAddr;
use std::str::FromStr;

/// The one forwarding header believed from a trusted proxy.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ClientIpHeader {
    /// `X-Forwarded-For: client, proxy1, proxy2` (what most load balancers append to).
    #[default]
    XForwardedFor,
    /// RFC 7239 `Forwarded: for=client, for=proxy1`.
    Forwarded,
}

impl ClientIpHeader {
    /// The header's name, lower-case.
    pub fn name(self) -> &'static str {
        match self {
            ClientIpHeader::XForwardedFor => "x-forwarded-for",
            ClientIpHeader::Forwarded => "forwarded",
        }
    }
}

impl fmt::Display for ClientIpHeader {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for ClientIpHeader {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        match s.trim().to_ascii_lowercase().as_str() {
            "x-forwarded-for" => Ok(ClientIpHeader::XForwardedFor),
            "forwarded" => Ok(ClientIpHeader::Forwarded),
            other => Err(format!("the client-ip header must be `x-forwarded-for` or `forwarded`, not `{other}`")),
        }
    }
}

/// A trusted proxy forwarded a chain with a hop that is not an address; the request is refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Unreadable {
    /// The header that held it.
    pub header: ClientIpHeader,
}

impl From<Unreadable> for crate::error::ApiError {
    fn from(err: Unreadable) -> Self {
        // The hop itself is not echoed: it is arbitrary text from the client or a proxy.
        crate::error::ApiError::bad_request(
            "forwarded_header_invalid",
            format!("the `{}` header forwarded by the proxy holds a hop that is not an IP address", err.header),
        )
        .with_detail(serde_json::json!({"header": err.header.name()}))
    }
}

/// IPv4-mapped IPv6 (`::ffff:a.b.c.d`, from dual-stack sockets) becomes plain IPv4.
pub fn canonical(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map(IpAddr::V4).unwrap_or(ip),
        v4 => v4,
    }
}

fn is_trusted(ip: IpAddr, trusted: &[IpNet]) -> bool {
    trusted.iter().any(|net| net.contains(&ip))
}

/// One node: `1.2.3.4`, `1.2.3.4:80`, `2001:db8::1`, `[2001:db8::1]`, `[2001:db8::1]:443`.
/// Anything else (a name, `unknown`, `_hidden`, a bad port) is `None`.
fn parse_node(v: &str) -> Option<IpAddr> {
    let port_ok = |p: &str| !p.is_empty() && p.len() <= 5 && p.bytes().all(|b| b.is_ascii_digit());
    if let Some(rest) = v.strip_prefix('[') {
        let (host, after) = rest.split_once(']')?;
        let ok = after.is_empty() || after.strip_prefix(':').is_some_and(port_ok);
        return ok.then(|| host.parse::<std::net::Ipv6Addr>().ok().map(IpAddr::V6)).flatten();
    }
    if let Ok(ip) = v.parse() {
        return Some(ip);
    }
    // Only IPv4 takes a bare port: an unbracketed IPv6 has colons of its own.
    let (host, port) = v.rsplit_once(':')?;
    let host: std::net::Ipv4Addr = host.parse().ok()?;
    port_ok(port).then_some(IpAddr::V4(host))
}

/// One `Forwarded` element (`for=…;proto=…;by=…`): exactly one `for` parameter, whose value may be
/// a quoted string.
fn parse_forwarded_element(element: &str) -> Option<IpAddr> {
    let mut found = None;
    for pair in element.split(';') {
        let (key, value) = pair.split_once('=')?;
        if key.trim().eq_ignore_ascii_case("for") {
            if found.is_some() {
                return None;
            }
            let value = value.trim();
            let value = match value.strip_prefix('"') {
                Some(quoted) => quoted.strip_suffix('"')?,
                None => value,
            };
            found = Some(parse_node(value)?);
        }
    }
    found
}

/// The hops of the chosen header, right-most (nearest) first, each parsed or `None`. Several header
/// lines form one list in order (RFC 9110 §5.3), so the last line's last element comes first. A
/// line that is not visible ASCII is one unreadable hop.
fn hops_from_the_right(headers: &HeaderMap, header: ClientIpHeader) -> impl Iterator<Item = Option<IpAddr>> + '_ {
    let lines: Vec<Option<&str>> = headers.get_all(header.name()).iter().map(|v| v.to_str().ok()).collect();
    lines.into_iter().rev().flat_map(move |line| {
        let elements: Vec<Option<IpAddr>> = match line {
            None => vec![None],
            Some(line) => line
                .rsplit(',')
                .map(|element| match header {
                    ClientIpHeader::XForwardedFor => parse_node(element.trim()),
                    ClientIpHeader::Forwarded => parse_forwarded_element(element.trim()),
                })
                .collect(),
        };
        elements
    })
}

/// The client's address given the TCP peer, the request headers, the trusted proxy ranges and the
/// header the proxy appends to; see the module documentation for the rules.
pub fn resolve(
    peer: IpAddr,
    headers: &HeaderMap,
    trusted: &[IpNet],
    header: ClientIpHeader,
) -> Result<IpAddr, Unreadable> {
    let peer = canonical(peer);
    if !is_trusted(peer, trusted) {
        return Ok(peer);
    }
    let mut client = peer;
    for hop in hops_from_the_right(headers, header) {
        let hop = canonical(hop.ok_or(Unreadable { header })?);
        client = hop;
        if !is_trusted(hop, trusted) {
            break;
        }
    }
    Ok(client)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use ClientIpHeader::{Forwarded, XForwardedFor};

    fn headers(pairs: &[(&'static str, &str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.append(*k, v.parse().unwrap());
        }
        h
    }

    fn nets(s: &[&str]) -> Vec<IpNet> {
        s.iter().map(|n| n.parse().unwrap()).collect()
    }

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn untrusted_peer_cannot_spoof() {
        let h = headers(&[("x-forwarded-for", "1.2.3.4"), ("forwarded", "for=1.2.3.4")]);
        for mode in [XForwardedFor, Forwarded] {
            assert_eq!(resolve(ip("9.9.9.9"), &h, &nets(&["10.0.0.0/8"]), mode), Ok(ip("9.9.9.9")));
        }
    }

    #[test]
    fn rightmost_untrusted_hop_wins() {
        let trusted = nets(&["10.0.0.0/8"]);
        let h = headers(&[("x-forwarded-for", "6.6.6.6, 1.2.3.4, 10.0.0.7")]);
        assert_eq!(resolve(ip("10.0.0.1"), &h, &trusted, XForwardedFor), Ok(ip("1.2.3.4")));
    }

    #[test]
    fn forwarded_header_and_ipv6() {
        let trusted = nets(&["127.0.0.0/8"]);
        let h = headers(&[("forwarded", "for=\"[2001:db8::1]:4711\";proto=https, for=127.0.0.2")]);
        assert_eq!(resolve(ip("127.0.0.1"), &h, &trusted, Forwarded), Ok(ip("2001:db8::1")));
    }

    #[test]
    fn only_the_configured_header_is_read() {
        let trusted = nets(&["127.0.0.0/8"]);
        // The proxy appends to X-Forwarded-For and passes the client's own Forwarded through.
        let h = headers(&[("forwarded", "for=203.0.113.7"), ("x-forwarded-for", "198.51.100.9")]);
        assert_eq!(resolve(ip("127.0.0.1"), &h, &trusted, XForwardedFor), Ok(ip("198.51.100.9")));
        assert_eq!(resolve(ip("127.0.0.1"), &h, &trusted, Forwarded), Ok(ip("203.0.113.7")));
        // Only the other header present: as if none was sent, the peer is the client.
        let h = headers(&[("forwarded", "for=203.0.113.7")]);
        assert_eq!(resolve(ip("127.0.0.1"), &h, &trusted, XForwardedFor), Ok(ip("127.0.0.1")));
    }

    #[test]
    fn an_unparseable_trusted_side_hop_refuses_and_never_yields_the_peer() {
        let trusted = nets(&["10.0.0.0/8", "198.51.100.0/24"]);
        let peer = ip("10.0.0.1");
        for value in ["garbage, 198.51.100.9", "not-an-ip", "8.8.8.8, not-an-ip", "", "1.2.3.4,", "1.2.3.4:http"] {
            let h = headers(&[("x-forwarded-for", value)]);
            assert_eq!(
                resolve(peer, &h, &trusted, XForwardedFor),
                Err(Unreadable { header: XForwardedFor }),
                "{value}"
            );
        }
        for value in ["for=unknown", "for=_hidden", "proto=https", "for=1.2.3.4;for=5.6.7.8", "for=\"1.2.3.4", "for"] {
            let h = headers(&[("forwarded", value)]);
            assert_eq!(resolve(peer, &h, &trusted, Forwarded), Err(Unreadable { header: Forwarded }), "{value}");
        }
    }

    #[test]
    fn text_left_of_the_client_is_never_read() {
        // The client wrote `garbage`; our proxy appended the client's real address. That is enough.
        let h = headers(&[("x-forwarded-for", "garbage, 203.0.113.5")]);
        assert_eq!(resolve(ip("10.0.0.1"), &h, &nets(&["10.0.0.0/8"]), XForwardedFor), Ok(ip("203.0.113.5")));
        let h = headers(&[("forwarded", "for=unknown, for=203.0.113.5")]);
        assert_eq!(resolve(ip("10.0.0.1"), &h, &nets(&["10.0.0.0/8"]), Forwarded), Ok(ip("203.0.113.5")));
    }

    #[test]
    fn all_trusted_hops_yield_the_left_most_and_no_header_yields_the_peer() {
        let trusted = nets(&["10.0.0.0/8"]);
        let h = headers(&[("x-forwarded-for", "10.9.9.9, 10.0.0.7")]);
        assert_eq!(resolve(ip("10.0.0.1"), &h, &trusted, XForwardedFor), Ok(ip("10.9.9.9")));
        assert_eq!(resolve(ip("10.0.0.1"), &HeaderMap::new(), &trusted, XForwardedFor), Ok(ip("10.0.0.1")));
    }

    #[test]
    fn several_lines_are_one_chain_and_an_opaque_line_is_one_bad_hop() {
        let trusted = nets(&["10.0.0.0/8"]);
        let h = headers(&[("x-forwarded-for", "6.6.6.6"), ("x-forwarded-for", "81.2.69.1, 10.0.0.9")]);
        assert_eq!(resolve(ip("10.0.0.1"), &h, &trusted, XForwardedFor), Ok(ip("81.2.69.1")));
        let mut h = HeaderMap::new();
        h.append("x-forwarded-for", axum::http::HeaderValue::from_bytes(b"\xff1.2.3.4").unwrap());
        assert_eq!(resolve(ip("10.0.0.1"), &h, &trusted, XForwardedFor), Err(Unreadable { header: XForwardedFor }));
    }

    #[test]
    fn nodes_parse_with_and_without_ports() {
        for (raw, want) in [
            ("1.2.3.4", Some("1.2.3.4")),
            ("1.2.3.4:80", Some("1.2.3.4")),
            ("2001:db8::1", Some("2001:db8::1")),
            ("[2001:db8::1]", Some("2001:db8::1")),
            ("[2001:db8::1]:443", Some("2001:db8::1")),
            ("[1.2.3.4]", None),
            ("[2001:db8::1]x", None),
            ("1.2.3.4:", None),
            ("1.2.3.4:999999", None),
            ("example.com", None),
            ("unknown", None),
        ] {
            assert_eq!(parse_node(raw), want.map(ip), "{raw}");
        }
    }

    #[test]
    fn mapped_ipv4_is_canonical() {
        assert_eq!(canonical(ip("::ffff:8.8.8.8")), ip("8.8.8.8"));
    }

    #[test]
    fn header_setting_parses() {
        assert_eq!("X-Forwarded-For".parse(), Ok(XForwardedFor));
        assert_eq!("forwarded".parse(), Ok(Forwarded));
        assert!("x-real-ip".parse::<ClientIpHeader>().is_err());
    }

    /// A hop in a generated chain: a trusted proxy (10/8), an outside address (203.0.113/24) or
    /// text that is not an address.
    #[derive(Debug, Clone)]
    enum Hop {
        Trusted(u8),
        Outside(u8),
        Garbage(String),
    }

    impl Hop {
        fn text(&self) -> String {
            match self {
                Hop::Trusted(n) => format!("10.1.0.{n}"),
                Hop::Outside(n) => format!("203.0.113.{n}"),
                Hop::Garbage(g) => g.clone(),
            }
        }
    }

    fn hop() -> impl Strategy<Value = Hop> {
        prop_oneof![
            any::<u8>().prop_map(Hop::Trusted),
            any::<u8>().prop_map(Hop::Outside),
            prop_oneof![Just("unknown".to_owned()), Just("_hidden".to_owned()), Just(String::new()), "[a-z]{1,8}"]
                .prop_map(Hop::Garbage),
        ]
    }

    fn header_for(mode: ClientIpHeader, chain: &[Hop]) -> HeaderMap {
        let value = match mode {
            XForwardedFor => chain.iter().map(Hop::text).collect::<Vec<_>>().join(", "),
            Forwarded => chain.iter().map(|h| format!("for={};proto=https", h.text())).collect::<Vec<_>>().join(", "),
        };
        headers(&[(mode.name(), &value)])
    }

    proptest! {
        #[test]
        fn a_present_chain_never_resolves_to_a_trusted_peer_nor_left_of_an_outside_hop(
            chain in proptest::collection::vec(hop(), 1..8),
            forwarded in any::<bool>(),
            peer_trusted in any::<bool>(),
        ) {
            let mode = if forwarded { Forwarded } else { XForwardedFor };
            // The peer is in the trusted range but never equal to a generated hop (10.1.0.x).
            let peer = if peer_trusted { ip("10.0.0.1") } else { ip("192.0.2.1") };
            let trusted = nets(&["10.0.0.0/8"]);
            let got = resolve(peer, &header_for(mode, &chain), &trusted, mode);
            if !peer_trusted {
                prop_assert_eq!(got, Ok(peer));
                return Ok(());
            }
            prop_assert_ne!(got, Ok(peer), "a trusted peer with a header present is never the client");
            // The reference walk: from the right, over trusted hops, until an outside hop or garbage.
            let rightmost_stop = chain.iter().rposition(|h| !matches!(h, Hop::Trusted(_)));
            match rightmost_stop.map(|i| &chain[i]) {
                Some(Hop::Outside(n)) => {
                    // Exactly that hop: never one the client wrote to its left, whatever it was.
                    prop_assert_eq!(got, Ok(ip(&format!("203.0.113.{n}"))));
                }
                Some(_) => prop_assert_eq!(got, Err(Unreadable { header: mode })),
                None => prop_assert_eq!(got, Ok(ip(&chain[0].text())), "all trusted: the left-most"),
            }
        }

        #[test]
        fn arbitrary_header_bytes_never_panic_and_never_yield_the_trusted_peer(
            value in proptest::collection::vec(any::<u8>(), 0..80),
            forwarded in any::<bool>(),
        ) {
            let mode = if forwarded { Forwarded } else { XForwardedFor };
            let Ok(value) = axum::http::HeaderValue::from_bytes(&value) else { return Ok(()) };
            let mut h = HeaderMap::new();
            h.insert(mode.name(), value);
            let peer = ip("10.0.0.1");
            let got = resolve(peer, &h, &nets(&["10.0.0.0/8"]), mode);
            // Only a hop that itself says 10.0.0.1 could name that address.
            if got == Ok(peer) {
                prop_assert!(h[mode.name()].to_str().unwrap_or("").contains("10.0.0.1"));
            }
        }
    }
}
