//! What the benchmark reads from /proc about a server: its process tree (dante forks), CPU time,
//! resident and proportional memory, and open file descriptors.

use std::fs;

/// Resource usage of a whole process tree at one instant.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub(crate) struct Usage {
    /// utime + stime, in seconds.
    pub cpu_secs: f64,
    /// Resident set size, bytes.
    pub rss: u64,
    /// Proportional set size, bytes (shared pages split between sharers: right for forking servers).
    pub pss: u64,
    /// Open file descriptors.
    pub fds: u64,
}

/// Clock ticks per second for /proc/PID/stat times.
fn ticks_per_sec() -> f64 {
    gost_sys::process::clock_ticks_per_sec().map_or(100.0, |t| t as f64)
}

/// Parses (ppid, utime + stime ticks) out of the text of /proc/PID/stat.
pub(crate) fn parse_stat(text: &str) -> Option<(u32, u64)> {
    // The command name (field 2) may contain spaces and parentheses: split after the last ')'.
    let rest = &text[text.rfind(')')? + 1..];
    let f: Vec<&str> = rest.split_whitespace().collect();
    // rest starts at field 3 (state): ppid is field 4, utime 14, stime 15.
    let ppid = f.get(1)?.parse().ok()?;
    let utime: u64 = f.get(11)?.parse().ok()?;
    let stime: u64 = f.get(12)?.parse().ok()?;
    Some((ppid, utime + stime))
}

/// Parses (Rss, Pss) in bytes out of the text of /proc/PID/smaps_rollup.
pub(crate) fn parse_smaps_rollup(text: &str) -> Option<(u64, u64)> {
    let field = |name: &str| -> Option<u64> {
        let line = text.lines().find(|l| l.starts_with(name))?;
        let kb: u64 = line[name.len()..].split_whitespace().next()?.parse().ok()?;
        Some(kb * 1024)
    };
    Some((field("Rss:")?, field("Pss:")?))
}

/// `root` and all its live descendants.
pub(crate) fn tree(root: u32) -> Vec<u32> {
    let mut parent_of = Vec::new();
    if let Ok(dir) = fs::read_dir("/proc") {
        for e in dir.flatten() {
            let Some(pid) = e.file_name().to_str().and_then(|s| s.parse::<u32>().ok()) else {
                continue;
            };
            if let Some((ppid, _)) = fs::read_to_string(format!("/proc/{pid}/stat"))
                .ok()
                .as_deref()
                .and_then(parse_stat)
            {
                parent_of.push((pid, ppid));
            }
        }
    }
    let mut out = vec![root];
    let mut i = 0;
    while i < out.len() {
        let p = out[i];
        out.extend(parent_of.iter().filter(|(_, pp)| *pp == p).map(|(c, _)| *c));
        i += 1;
    }
    out
}

/// Usage summed over `root`'s process tree. Processes that vanish mid-read are skipped.
pub(crate) fn usage(root: u32) -> Usage {
    let tps = ticks_per_sec();
    let mut u = Usage::default();
    for pid in tree(root) {
        if let Some((_, ticks)) = fs::read_to_string(format!("/proc/{pid}/stat"))
            .ok()
            .as_deref()
            .and_then(parse_stat)
        {
            u.cpu_secs += ticks as f64 / tps;
        }
        if let Some((rss, pss)) = fs::read_to_string(format!("/proc/{pid}/smaps_rollup"))
            .ok()
            .as_deref()
            .and_then(parse_smaps_rollup)
        {
            u.rss += rss;
            u.pss += pss;
        }
        if let Ok(d) = fs::read_dir(format!("/proc/{pid}/fd")) {
            u.fds += d.count() as u64;
        }
    }
    u
}

/// CPU seconds of `root`'s tree only (cheap enough to call around every measurement).
pub(crate) fn cpu_secs(root: u32) -> f64 {
    let tps = ticks_per_sec();
    tree(root)
        .into_iter()
        .filter_map(|pid| fs::read_to_string(format!("/proc/{pid}/stat")).ok())
        .filter_map(|t| parse_stat(&t))
        .map(|(_, ticks)| ticks as f64 / tps)
        .sum()
}

/// The 1-minute load average, for the report.
pub(crate) fn loadavg() -> String {
    fs::read_to_string("/proc/loadavg")
        .map(|s| s.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
        .unwrap_or_else(|_| "unknown".into())
}

/// Whether the text of /proc/net/udp (or udp6) lists a socket bound to local `port`.
pub(crate) fn lists_udp_port(table: &str, port: u16) -> bool {
    let want = format!(":{port:04X}");
    table
        .lines()
        .skip(1)
        .filter_map(|l| l.split_whitespace().nth(1))
        .any(|local| local.ends_with(&want))
}

/// Whether some process has a UDP socket bound to `port` (a KCP listener has no TCP port to probe).
pub(crate) fn udp_port_bound(port: u16) -> bool {
    ["/proc/net/udp", "/proc/net/udp6"]
        .iter()
        .filter_map(|p| fs::read_to_string(p).ok())
        .any(|t| lists_udp_port(&t, port))
}

/// Raises the soft open-file limit to the hard limit (servers inherit it), returning the new limit.
pub(crate) fn raise_fd_limit() -> std::io::Result<u64> {
    gost_sys::sockopt::raise_nofile()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stat_with_spaces_in_the_name() {
        let text =
            "1234 (dante (x) d) S 77 1234 1234 0 -1 4194560 100 0 0 0 250 31 0 0 20 0 3 0 5 1 1";
        assert_eq!(parse_stat(text), Some((77, 281)));
        assert_eq!(parse_stat("garbage"), None);
    }

    #[test]
    fn smaps_rollup_fields() {
        let text = "55d0-7ffd ---p 00000000 00:00 0  [rollup]\nRss:                4096 kB\n\
                    Pss:                1500 kB\nPss_Anon:            800 kB\n";
        assert_eq!(parse_smaps_rollup(text), Some((4096 * 1024, 1500 * 1024)));
        assert_eq!(parse_smaps_rollup("Rss: 1 kB\n"), None);
    }

    #[test]
    fn udp_table_local_ports() {
        let text = "  sl  local_address rem_address   st tx_queue rx_queue\n\
                    \x20 12: 0100007F:1F90 00000000:0000 07 00000000:00000000\n";
        assert!(lists_udp_port(text, 8080));
        assert!(!lists_udp_port(text, 80));
        let me = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
        assert!(udp_port_bound(me.local_addr().unwrap().port()));
    }

    #[test]
    fn own_process_is_visible() {
        let me = std::process::id();
        let u = usage(me);
        assert!(u.rss > 0 && u.pss > 0 && u.fds > 0, "{u:?}");
    }
}
