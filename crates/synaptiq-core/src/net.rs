//! IP allow-lists (CIDR).

use std::net::IpAddr;

use ipnet::IpNet;

/// Parses a CIDR or a bare address (taken as /32 or /128).
pub fn parse_cidr(s: &str) -> Option<IpNet> {
    let s = s.trim();
    s.parse::<IpNet>()
        .ok()
        .map(|n| n.trunc())
        .or_else(|| s.parse::<IpAddr>().ok().map(IpNet::from))
}

/// Whether `ip` is allowed by `list`; an empty list allows every address.
/// IPv4-mapped IPv6 addresses are compared as IPv4.
pub fn ip_allowed(list: &[IpNet], ip: IpAddr) -> bool {
    if list.is_empty() {
        return true;
    }
    let ip = match ip {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map(IpAddr::V4).unwrap_or(ip),
        v4 => v4,
    };
    list.iter().any(|n| n.contains(&ip))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn allow_lists() {
        let list = vec![
            parse_cidr("10.0.0.0/8").expect("cidr"),
            parse_cidr("::1").expect("ip"),
        ];
        assert!(ip_allowed(&list, "10.1.2.3".parse().expect("ip")));
        assert!(ip_allowed(&list, "::ffff:10.1.2.3".parse().expect("ip")));
        assert!(ip_allowed(&list, "::1".parse().expect("ip")));
        assert!(!ip_allowed(&list, "11.0.0.1".parse().expect("ip")));
        assert!(ip_allowed(&[], "11.0.0.1".parse().expect("ip")));
        assert!(parse_cidr("nope").is_none());
        assert_eq!(
            parse_cidr("10.1.2.3/8").map(|n| n.to_string()),
            Some("10.0.0.0/8".into())
        );
    }
}
