//! Longest-prefix match over IP networks, as a sorted list of disjoint ranges.
//!
//! Why not a trie: a lookup table is read-only after start-up, so all the work can go to
//! load time. There the (nested-or-disjoint) networks are flattened into disjoint
//! address ranges, each carrying the value of the *most specific* network that covers it;
//! a lookup is then one binary search over a flat, cache-friendly array (~20 comparisons
//! for a million networks), with no pointer chasing and no dependency.
//!
//! IPv4 and IPv6 live in separate range sets, so `::/0` never answers an IPv4 address;
//! an IPv4-mapped IPv6 address (`::ffff:192.0.2.1`) is looked up as the IPv4 address it
//! holds, and an IPv4-mapped network is stored as the IPv4 network it denotes.

use std::net::IpAddr;

use ipnet::IpNet;

/// One network of the input: `[start, end]` with its prefix length and value index.
#[derive(Debug, Clone, Copy)]
struct Prefix {
    start: u128,
    end: u128,
    len: u8,
    value: u32,
}

/// Disjoint ranges `[starts[i], ends[i]]` → `values[i]`, sorted by start.
#[derive(Debug, Default, Clone)]
struct Ranges {
    starts: Vec<u128>,
    ends: Vec<u128>,
    values: Vec<u32>,
}

impl Ranges {
    fn push(&mut self, start: u128, end: u128, value: u32) {
        self.starts.push(start);
        self.ends.push(end);
        self.values.push(value);
    }

    /// Flattens nested-or-disjoint prefixes (no two equal) into disjoint ranges where the
    /// innermost prefix wins.
    fn flatten(mut prefixes: Vec<Prefix>) -> Ranges {
        // Wider first when two start at the same address: the narrower one nests in it.
        prefixes.sort_unstable_by_key(|p| (p.start, p.len));
        let mut out = Ranges::default();
        // The enclosing prefixes of the current position, innermost last.
        let mut open: Vec<Prefix> = Vec::new();
        // The first address not yet emitted (`None`: past the end of the address space).
        let mut cursor: Option<u128> = Some(0);
        for p in prefixes {
            while let Some(top) = open.last().copied()
                && top.end < p.start
            {
                if let Some(c) = cursor
                    && c <= top.end
                {
                    out.push(c, top.end, top.value);
                }
                // top.end < p.start, so top.end + 1 does not overflow.
                cursor = Some(top.end + 1);
                open.pop();
            }
            if let (Some(top), Some(c)) = (open.last(), cursor)
                && c < p.start
            {
                out.push(c, p.start - 1, top.value);
            }
            cursor = Some(p.start);
            open.push(p);
        }
        while let Some(top) = open.pop() {
            if let Some(c) = cursor
                && c <= top.end
            {
                out.push(c, top.end, top.value);
            }
            cursor = top.end.checked_add(1);
        }
        out
    }

    fn find(&self, addr: u128) -> Option<u32> {
        let i = self.starts.partition_point(|s| *s <= addr).checked_sub(1)?;
        (addr <= self.ends[i]).then(|| self.values[i])
    }
}

/// Why a network could not be added.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CidrError {
    #[error("`{0}` is not an IP address or network (expected e.g. 203.0.113.0/24 or 2001:db8::/32)")]
    Syntax(String),
    #[error("`{given}` has host bits set (did you mean {network}?)")]
    HostBits { given: String, network: String },
}

/// Parses `203.0.113.0/24`, `2001:db8::/32` or a single address (a /32 or /128).
pub fn parse_network(text: &str) -> Result<IpNet, CidrError> {
    let text = text.trim();
    let net = if text.contains('/') {
        text.parse::<IpNet>().map_err(|_| CidrError::Syntax(text.to_owned()))?
    } else {
        IpNet::from(text.parse::<IpAddr>().map_err(|_| CidrError::Syntax(text.to_owned()))?)
    };
    if net.trunc() != net {
        return Err(CidrError::HostBits { given: text.to_owned(), network: net.trunc().to_string() });
    }
    Ok(match net {
        IpNet::V6(v6) if v6.prefix_len() >= 96 => match v6.network().to_ipv4_mapped() {
            Some(v4) => IpNet::V4(
                ipnet::Ipv4Net::new(v4, v6.prefix_len() - 96)
                    .map_err(|_| CidrError::Syntax(text.to_owned()))?,
            ),
            None => net,
        },
        other => other,
    })
}

/// Collects networks, then freezes them into a [`CidrTable`].
#[derive(Debug, Default)]
pub struct CidrBuilder {
    v4: Vec<Prefix>,
    v6: Vec<Prefix>,
    seen: std::collections::HashSet<IpNet>,
}

impl CidrBuilder {
    /// Adds `net` → value index `value`; `false` when the network is already present.
    pub fn insert(&mut self, net: IpNet, value: u32) -> bool {
        if !self.seen.insert(net) {
            return false;
        }
        match net {
            IpNet::V4(n) => self.v4.push(Prefix {
                start: u128::from(u32::from(n.network())),
                end: u128::from(u32::from(n.broadcast())),
                len: n.prefix_len(),
                value,
            }),
            IpNet::V6(n) => self.v6.push(Prefix {
                start: u128::from(n.network()),
                end: u128::from(n.broadcast()),
                len: n.prefix_len(),
                value,
            }),
        }
        true
    }

    /// The read-only table.
    pub fn build(self) -> CidrTable {
        CidrTable { v4: Ranges::flatten(self.v4), v6: Ranges::flatten(self.v6), networks: self.seen.len() }
    }
}

/// Longest-prefix match from an address to a value index.
#[derive(Debug, Default, Clone)]
pub struct CidrTable {
    v4: Ranges,
    v6: Ranges,
    networks: usize,
}

impl CidrTable {
    /// The value index of the most specific network holding `addr`.
    pub fn find(&self, addr: IpAddr) -> Option<u32> {
        match addr.to_canonical() {
            IpAddr::V4(a) => self.v4.find(u128::from(u32::from(a))),
            IpAddr::V6(a) => self.v6.find(u128::from(a)),
        }
    }

    /// How many networks were loaded.
    pub fn len(&self) -> usize {
        self.networks
    }

    /// True when no network was loaded.
    pub fn is_empty(&self) -> bool {
        self.networks == 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn table(nets: &[&str]) -> CidrTable {
        let mut b = CidrBuilder::default();
        for (i, n) in nets.iter().enumerate() {
            assert!(b.insert(parse_network(n).expect("valid"), i as u32), "{n} twice");
        }
        b.build()
    }

    fn find(t: &CidrTable, ip: &str) -> Option<u32> {
        t.find(ip.parse().expect("valid address"))
    }

    /// The obvious answer: scan every network, keep the longest that contains the address.
    fn brute(nets: &[&str], ip: &str) -> Option<u32> {
        let ip: IpAddr = ip.parse().expect("valid");
        let ip = ip.to_canonical();
        nets.iter()
            .enumerate()
            .filter_map(|(i, n)| {
                let n = parse_network(n).expect("valid");
                n.contains(&ip).then_some((n.prefix_len(), i as u32))
            })
            .max()
            .map(|(_, i)| i)
    }

    #[test]
    fn longest_prefix_wins_v4() {
        let nets = ["10.0.0.0/8", "10.1.0.0/16", "10.1.2.0/24", "10.1.2.3", "192.0.2.0/24"];
        let t = table(&nets);
        assert_eq!(find(&t, "10.9.9.9"), Some(0));
        assert_eq!(find(&t, "10.1.9.9"), Some(1));
        assert_eq!(find(&t, "10.1.2.4"), Some(2));
        assert_eq!(find(&t, "10.1.2.3"), Some(3));
        assert_eq!(find(&t, "10.1.3.0"), Some(1));
        assert_eq!(find(&t, "10.255.255.255"), Some(0));
        assert_eq!(find(&t, "11.0.0.0"), None);
        assert_eq!(find(&t, "192.0.2.255"), Some(4));
        assert_eq!(find(&t, "192.0.3.0"), None);
        assert_eq!(find(&t, "::ffff:10.1.2.3"), Some(3), "IPv4-mapped IPv6 matches v4 networks");
        assert_eq!(find(&t, "2001:db8::1"), None);
    }

    #[test]
    fn longest_prefix_wins_v6_and_families_stay_apart() {
        let nets = ["::/0", "2001:db8::/32", "2001:db8:1::/48", "0.0.0.0/0", "::ffff:198.51.100.0/120"];
        let t = table(&nets);
        assert_eq!(find(&t, "2001:db8:1::5"), Some(2));
        assert_eq!(find(&t, "2001:db8:2::5"), Some(1));
        assert_eq!(find(&t, "fe80::1"), Some(0));
        assert_eq!(find(&t, "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff"), Some(0));
        assert_eq!(find(&t, "203.0.113.9"), Some(3), "::/0 does not answer IPv4");
        assert_eq!(find(&t, "198.51.100.7"), Some(4), "a mapped network is an IPv4 network");
    }

    #[test]
    fn agrees_with_a_linear_scan() {
        let nets = [
            "0.0.0.0/1",
            "10.0.0.0/8",
            "10.0.0.0/9",
            "10.0.0.0/24",
            "10.0.0.128/25",
            "10.128.0.0/9",
            "10.200.0.0/16",
            "128.0.0.0/2",
            "255.255.255.255/32",
            "172.16.0.0/12",
            "172.16.5.0/24",
        ];
        let t = table(&nets);
        let mut x: u32 = 0x1234_5678;
        let mut probes: Vec<String> = vec![
            "0.0.0.0".into(),
            "255.255.255.255".into(),
            "10.0.0.127".into(),
            "10.0.0.128".into(),
            "10.0.1.0".into(),
            "10.127.255.255".into(),
            "10.128.0.0".into(),
            "191.255.255.255".into(),
            "192.0.0.0".into(),
            "172.16.5.255".into(),
            "172.31.255.255".into(),
            "172.32.0.0".into(),
        ];
        for _ in 0..5000 {
            x ^= x << 13;
            x ^= x >> 17;
            x ^= x << 5;
            probes.push(std::net::Ipv4Addr::from(x).to_string());
        }
        for ip in &probes {
            assert_eq!(find(&t, ip), brute(&nets, ip), "{ip}");
        }
    }

    #[test]
    fn parse_refuses_bad_networks() {
        assert!(matches!(parse_network("10.0.0.1/8"), Err(CidrError::HostBits { .. })));
        assert!(matches!(parse_network("10.0.0.300/24"), Err(CidrError::Syntax(_))));
        assert!(matches!(parse_network("10.0.0.0/33"), Err(CidrError::Syntax(_))));
        assert!(matches!(parse_network("berlin"), Err(CidrError::Syntax(_))));
        assert_eq!(parse_network(" 2001:db8::/32 ").map(|n| n.prefix_len()), Ok(32));
    }
}
