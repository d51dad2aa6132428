//! Where a webhook may deliver. In live, an address on the deployment's own side of the network
//! — loopback, private, link-local (cloud metadata lives there), shared (CGNAT), multicast or
//! otherwise special — is refused, both when the webhook is created and again at connect time
//! against the address DNS actually returned (DNS rebinding). In test, loopback is allowed, so a
//! developer's local receiver works. The operator may allow ranges (`--webhook-allow-network`).

use crate::Environment;
use ipnet::IpNet;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

/// Why an address is not a delivery destination; each has its stable `reason`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    Loopback,
    Private,
    LinkLocal,
    SharedAddressSpace,
    Multicast,
    Special,
}

impl Refusal {
    pub fn reason(self) -> &'static str {
        match self {
            Refusal::Loopback => "destination_loopback",
            Refusal::Private => "destination_private",
            Refusal::LinkLocal => "destination_link_local",
            Refusal::SharedAddressSpace => "destination_shared_address_space",
            Refusal::Multicast => "destination_multicast",
            Refusal::Special => "destination_special_purpose",
        }
    }

    pub fn message(self) -> &'static str {
        match self {
            Refusal::Loopback => "the URL's host is a loopback address",
            Refusal::Private => "the URL's host is a private-network address",
            Refusal::LinkLocal => "the URL's host is a link-local address (where cloud metadata services live)",
            Refusal::SharedAddressSpace => "the URL's host is in the carrier-grade NAT range 100.64.0.0/10",
            Refusal::Multicast => "the URL's host is a multicast or broadcast address",
            Refusal::Special => "the URL's host is a special-purpose address that is not on the public internet",
        }
    }
}

/// Whether `ip` may receive deliveries for a webhook of `environment`.
pub fn check(ip: IpAddr, environment: Environment, allowed: &[IpNet]) -> Result<(), Refusal> {
    if allowed.iter().any(|net| net.contains(&ip)) {
        return Ok(());
    }
    match classify(ip) {
        None => Ok(()),
        Some(Refusal::Loopback) if environment == Environment::Test => Ok(()),
        Some(refusal) => Err(refusal),
    }
}

/// The special range `ip` lies in, if any (an IPv4 address embedded in IPv6 counts as itself).
fn classify(ip: IpAddr) -> Option<Refusal> {
    match ip {
        IpAddr::V4(v4) => classify_v4(v4),
        IpAddr::V6(v6) => match embedded_v4(v6) {
            Some(v4) => classify_v4(v4),
            None => classify_v6(v6),
        },
    }
}

fn classify_v4(ip: Ipv4Addr) -> Option<Refusal> {
    let [a, b, c, _] = ip.octets();
    Some(match (a, b, c) {
        (127, ..) => Refusal::Loopback,
        (10, ..) | (172, 16..=31, _) | (192, 168, _) => Refusal::Private,
        (169, 254, _) => Refusal::LinkLocal,
        (100, 64..=127, _) => Refusal::SharedAddressSpace,
        (224..=239, ..) => Refusal::Multicast,
        _ if ip.is_broadcast() => Refusal::Multicast,
        // "This network", IETF protocol assignments, documentation, benchmarking, reserved.
        (0, ..) | (192, 0, 0) | (192, 0, 2) | (198, 51, 100) | (203, 0, 113) | (198, 18..=19, _) | (240..=255, ..) => {
            Refusal::Special
        }
        _ => return None,
    })
}

fn classify_v6(ip: Ipv6Addr) -> Option<Refusal> {
    let first = ip.segments()[0];
    Some(match first {
        _ if ip.is_loopback() => Refusal::Loopback,
        _ if ip.is_unspecified() => Refusal::Special,
        0xfc00..=0xfdff => Refusal::Private,
        0xfe80..=0xfebf => Refusal::LinkLocal,
        0xff00..=0xffff => Refusal::Multicast,
        // Documentation (2001:db8::/32) and the discard prefix (100::/64).
        0x2001 if ip.segments()[1] == 0x0db8 => Refusal::Special,
        0x0100 if ip.segments()[1..4] == [0, 0, 0] => Refusal::Special,
        _ => return None,
    })
}

/// The IPv4 address inside an IPv4-mapped (`::ffff:a.b.c.d`), IPv4-compatible (`::a.b.c.d`) or
/// NAT64 (`64:ff9b::a.b.c.d`) address: each reaches that IPv4 host.
fn embedded_v4(ip: Ipv6Addr) -> Option<Ipv4Addr> {
    let s = ip.segments();
    let tail = Ipv4Addr::new((s[6] >> 8) as u8, s[6] as u8, (s[7] >> 8) as u8, s[7] as u8);
    match s[..6] {
        [0, 0, 0, 0, 0, 0xffff] => Some(tail),
        [0, 0, 0, 0, 0, 0] if !ip.is_loopback() && !ip.is_unspecified() => Some(tail),
        [0x64, 0xff9b, 0, 0, 0, 0] => Some(tail),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn live_refuses_the_deployments_own_side_of_the_network() {
        let refused = [
            ("127.0.0.1", Refusal::Loopback),
            ("::1", Refusal::Loopback),
            ("::ffff:127.0.0.1", Refusal::Loopback),
            ("10.1.2.3", Refusal::Private),
            ("172.31.255.255", Refusal::Private),
            ("192.168.0.10", Refusal::Private),
            ("fd12:3456::1", Refusal::Private),
            ("169.254.169.254", Refusal::LinkLocal),
            ("::ffff:169.254.169.254", Refusal::LinkLocal),
            ("64:ff9b::a9fe:a9fe", Refusal::LinkLocal),
            ("fe80::1", Refusal::LinkLocal),
            ("100.64.0.1", Refusal::SharedAddressSpace),
            ("224.0.0.1", Refusal::Multicast),
            ("255.255.255.255", Refusal::Multicast),
            ("ff02::1", Refusal::Multicast),
            ("0.0.0.0", Refusal::Special),
            ("::", Refusal::Special),
            ("192.0.2.1", Refusal::Special),
            ("2001:db8::1", Refusal::Special),
        ];
        for (addr, refusal) in refused {
            assert_eq!(check(ip(addr), Environment::Live, &[]), Err(refusal), "{addr}");
        }
        for public in ["8.8.8.8", "172.32.0.1", "100.128.0.1", "2606:4700::1111", "::ffff:1.1.1.1"] {
            assert_eq!(check(ip(public), Environment::Live, &[]), Ok(()), "{public}");
        }
    }

    #[test]
    fn test_allows_loopback_only_and_the_operator_can_allow_a_range() {
        assert_eq!(check(ip("127.0.0.1"), Environment::Test, &[]), Ok(()));
        assert_eq!(check(ip("::1"), Environment::Test, &[]), Ok(()));
        assert_eq!(check(ip("10.0.0.5"), Environment::Test, &[]), Err(Refusal::Private));
        assert_eq!(check(ip("169.254.169.254"), Environment::Test, &[]), Err(Refusal::LinkLocal));
        let allowed: Vec<IpNet> = vec!["10.0.0.0/24".parse().unwrap()];
        assert_eq!(check(ip("10.0.0.5"), Environment::Live, &allowed), Ok(()));
        assert_eq!(check(ip("10.0.1.5"), Environment::Live, &allowed), Err(Refusal::Private));
    }

    #[test]
    fn every_refusal_has_its_own_reason_and_message() {
        let all = [
            Refusal::Loopback,
            Refusal::Private,
            Refusal::LinkLocal,
            Refusal::SharedAddressSpace,
            Refusal::Multicast,
            Refusal::Special,
        ];
        let reasons: std::collections::HashSet<_> = all.iter().map(|r| r.reason()).collect();
        let messages: std::collections::HashSet<_> = all.iter().map(|r| r.message()).collect();
        assert_eq!((reasons.len(), messages.len()), (all.len(), all.len()));
    }

    proptest! {
        /// An IPv4 address and each IPv6 spelling that reaches it are judged alike.
        #[test]
        fn an_embedded_ipv4_address_is_judged_as_itself(octets in any::<[u8; 4]>(), live in any::<bool>()) {
            let v4 = Ipv4Addr::from(octets);
            let environment = if live { Environment::Live } else { Environment::Test };
            let mapped = IpAddr::V6(v4.to_ipv6_mapped());
            let [a, b, c, d] = octets;
            let nat64 = IpAddr::V6(Ipv6Addr::new(0x64, 0xff9b, 0, 0, 0, 0, u16::from_be_bytes([a, b]), u16::from_be_bytes([c, d])));
            let direct = check(IpAddr::V4(v4), environment, &[]);
            prop_assert_eq!(check(mapped, environment, &[]), direct);
            prop_assert_eq!(check(nat64, environment, &[]), direct);
        }
    }
}
