//! Who is calling: the client address behind trusted proxies, and its country.
//!
//! The address decides IP allowlists, so it is a security boundary. Forwarding headers are read
//! only when the TCP peer is itself a trusted proxy; then the chain is walked from the right
//! (nearest hop) and the first address that is not a trusted proxy is the client. A client that
//! sends its own `X-Forwarded-For` directly is ignored.

use axum::http::HeaderMap;
use ipnet::IpNet;
use std::net::IpAddr;

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

/// Parses one `for=` value of RFC 7239 `Forwarded` (`1.2.3.4`, `"[2001:db8::1]:443"`, `1.2.3.4:80`).
fn parse_forwarded_node(raw: &str) -> Option<IpAddr> {
    let v = raw.trim().trim_matches('"');
    if let Some(rest) = v.strip_prefix('[') {
        return rest.split(']').next()?.parse().ok();
    }
    v.parse().ok().or_else(|| v.rsplit_once(':').and_then(|(host, _)| host.parse().ok()))
}

/// The forwarding chain, client first, from `Forwarded` if present, else `X-Forwarded-For`.
/// `None` when a header is present but unreadable.
fn forwarding_chain(headers: &HeaderMap) -> Option<Vec<IpAddr>> {
    let forwarded: Vec<&str> = headers.get_all("forwarded").iter().filter_map(|v| v.to_str().ok()).collect();
    if !forwarded.is_empty() {
        let mut chain = Vec::new();
        for element in forwarded.iter().flat_map(|h| h.split(',')) {
            for pair in element.split(';') {
                if let Some((k, v)) = pair.split_once('=') {
                    if k.trim().eq_ignore_ascii_case("for") {
                        chain.push(parse_forwarded_node(v)?);
                    }
                }
            }
        }
        return Some(chain);
    }
    let mut chain = Vec::new();
    for value in headers.get_all("x-forwarded-for") {
        for part in value.to_str().ok()?.split(',') {
            chain.push(part.trim().parse().ok()?);
        }
    }
    Some(chain)
}

/// The client's address given the TCP peer, the request headers and the trusted proxy ranges.
pub fn resolve(peer: IpAddr, headers: &HeaderMap, trusted: &[IpNet]) -> IpAddr {
    let peer = canonical(peer);
    if !is_trusted(peer, trusted) {
        return peer;
    }
    let Some(chain) = forwarding_chain(headers) else { return peer };
    let mut client = peer;
    for hop in chain.into_iter().rev().map(canonical) {
        client = hop;
        if !is_trusted(hop, trusted) {
            break;
        }
    }
    client
}

#[cfg(test)]
mod tests {
    use super::*;

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

    #[test]
    fn untrusted_peer_cannot_spoof() {
        let h = headers(&[("x-forwarded-for", "1.2.3.4")]);
        assert_eq!(
            resolve("9.9.9.9".parse().unwrap(), &h, &nets(&["10.0.0.0/8"])),
            "9.9.9.9".parse::<IpAddr>().unwrap()
        );
    }

    #[test]
    fn rightmost_untrusted_hop_wins() {
        let trusted = nets(&["10.0.0.0/8"]);
        let h = headers(&[("x-forwarded-for", "6.6.6.6, 1.2.3.4, 10.0.0.7")]);
        assert_eq!(resolve("10.0.0.1".parse().unwrap(), &h, &trusted), "1.2.3.4".parse::<IpAddr>().unwrap());
    }

    #[test]
    fn forwarded_header_and_ipv6() {
        let trusted = nets(&["127.0.0.0/8"]);
        let h = headers(&[("forwarded", "for=\"[2001:db8::1]:4711\";proto=https, for=127.0.0.2")]);
        assert_eq!(resolve("127.0.0.1".parse().unwrap(), &h, &trusted), "2001:db8::1".parse::<IpAddr>().unwrap());
    }

    #[test]
    fn garbage_header_falls_back_to_peer() {
        let h = headers(&[("x-forwarded-for", "not-an-ip")]);
        assert_eq!(
            resolve("10.0.0.1".parse().unwrap(), &h, &nets(&["10.0.0.0/8"])),
            "10.0.0.1".parse::<IpAddr>().unwrap()
        );
    }

    #[test]
    fn mapped_ipv4_is_canonical() {
        assert_eq!(canonical("::ffff:8.8.8.8".parse().unwrap()), "8.8.8.8".parse::<IpAddr>().unwrap());
    }
}
