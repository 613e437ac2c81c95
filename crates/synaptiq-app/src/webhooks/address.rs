//! The SSRF guard's rules: which addresses a webhook may never reach, and the check of a URL's
//! host (resolved here, by us). The delivery worker applies the same rule to every address it
//! connects to (its resolver), so a name that resolves elsewhere later is caught then too.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::time::Duration;

/// How long the check waits for DNS.
const LOOKUP_TIMEOUT: Duration = Duration::from_secs(3);

/// Whether webhooks may never reach `ip`: loopback, private (RFC 1918, unique local), shared
/// (RFC 6598), link-local (which holds the cloud metadata address 169.254.169.254),
/// multicast, broadcast, unspecified, "this network", documentation and benchmarking ranges,
/// and IPv6 forms of these (IPv4-mapped, NAT64 of a blocked address).
pub fn blocked(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => blocked_v4(v4),
        IpAddr::V6(v6) => blocked_v6(v6),
    }
}

fn blocked_v4(ip: Ipv4Addr) -> bool {
    let [a, b, c, _] = ip.octets();
    ip.is_loopback()
        || ip.is_private()
        || ip.is_link_local()
        || ip.is_multicast()
        || ip.is_broadcast()
        || ip.is_unspecified()
        || ip.is_documentation()
        || a == 0
        || (a == 100 && (64..128).contains(&b)) // shared address space (carrier NAT)
        || (a == 192 && b == 0 && c == 0) // IETF protocol assignments
        || (a == 198 && (18..20).contains(&b)) // benchmarking
        || a >= 240 // reserved
}

fn blocked_v6(ip: Ipv6Addr) -> bool {
    if let Some(v4) = ip.to_ipv4_mapped() {
        return blocked_v4(v4);
    }
    let seg = ip.segments();
    // NAT64 (64:ff9b::/96) reaches the IPv4 address in its last 32 bits.
    if seg[..6] == [0x64, 0xff9b, 0, 0, 0, 0] {
        let [_, _, _, _, _, _, hi, lo] = seg;
        let v4 = Ipv4Addr::from((u32::from(hi) << 16) | u32::from(lo));
        return blocked_v4(v4);
    }
    ip.is_loopback()
        || ip.is_unspecified()
        || ip.is_multicast()
        || (seg[0] & 0xfe00) == 0xfc00 // unique local (fd00:ec2::254 is AWS metadata)
        || (seg[0] & 0xffc0) == 0xfe80 // link-local
        || (seg[0] & 0xffc0) == 0xfec0 // site-local (deprecated)
        || seg[0] == 0x2001 && seg[1] == 0x0db8 // documentation
        || seg[..6] == [0, 0, 0, 0, 0, 0] // IPv4-compatible (deprecated)
}

/// Why a URL's host is refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AddressError {
    /// It is, or resolves to, an address webhooks may not reach.
    #[error("{0} is a private, loopback, link-local or otherwise internal address")]
    Blocked(IpAddr),
}

/// Checks the host of a webhook URL: an IP literal must not be [`blocked`]; a name is resolved
/// (port included) and refused when any of its addresses is blocked. A name that does not
/// resolve now passes: deliveries will fail with `dns` until it does, and each delivery checks
/// again what it connects to.
pub async fn check_host(host: &str, port: u16) -> Result<(), AddressError> {
    let bare = host.trim_start_matches('[').trim_end_matches(']');
    if let Ok(ip) = bare.parse::<IpAddr>() {
        return if blocked(ip) {
            Err(AddressError::Blocked(ip))
        } else {
            Ok(())
        };
    }
    let lookup = tokio::time::timeout(LOOKUP_TIMEOUT, tokio::net::lookup_host((bare, port))).await;
    if let Ok(Ok(addrs)) = lookup {
        for a in addrs {
            if blocked(a.ip()) {
                return Err(AddressError::Blocked(a.ip()));
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn internal_addresses_are_blocked_and_public_ones_are_not() {
        for ip in [
            "127.0.0.1",
            "10.1.2.3",
            "172.16.0.1",
            "192.168.1.1",
            "169.254.169.254",
            "100.64.0.1",
            "0.0.0.0",
            "255.255.255.255",
            "224.0.0.1",
            "::1",
            "::",
            "fd00:ec2::254",
            "fe80::1",
            "::ffff:127.0.0.1",
            "::ffff:169.254.169.254",
            "64:ff9b::a9fe:a9fe",
        ] {
            assert!(
                blocked(ip.parse().unwrap_or(IpAddr::V4(Ipv4Addr::LOCALHOST))),
                "{ip}"
            );
            assert!(ip.parse::<IpAddr>().is_ok(), "{ip} parses");
        }
        for ip in [
            "93.184.216.34",
            "8.8.8.8",
            "2606:4700::1111",
            "64:ff9b::808:808",
        ] {
            let parsed: IpAddr = ip.parse().unwrap_or(IpAddr::V4(Ipv4Addr::LOCALHOST));
            assert!(!blocked(parsed), "{ip}");
        }
    }

    #[tokio::test]
    async fn literal_hosts_are_checked_without_dns() {
        assert!(check_host("127.0.0.1", 80).await.is_err());
        assert!(check_host("[::1]", 80).await.is_err());
        assert!(check_host("localhost", 80).await.is_err());
        assert!(check_host("93.184.216.34", 443).await.is_ok());
    }
}
