//! The machine's available memory, for checks made before large allocations.

/// Bytes of memory available to new allocations: `MemAvailable` of `/proc/meminfo` (Linux);
/// `None` where it cannot be read (then no check is made).
pub fn available_bytes() -> Option<u64> {
    let text = std::fs::read_to_string("/proc/meminfo").ok()?;
    parse_meminfo(&text)
}

/// `MemAvailable` (in bytes) from the text of `/proc/meminfo`.
pub fn parse_meminfo(text: &str) -> Option<u64> {
    let line = text.lines().find(|l| l.starts_with("MemAvailable:"))?;
    let kb: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    kb.checked_mul(1024)
}

#[cfg(test)]
mod tests {
    #[test]
    fn meminfo() {
        let t = "MemTotal:       16000000 kB\nMemAvailable:    8000000 kB\n";
        assert_eq!(super::parse_meminfo(t), Some(8_000_000 * 1024));
        assert_eq!(super::parse_meminfo("MemTotal: 1 kB\n"), None);
    }
}
