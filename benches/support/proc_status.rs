//! Memory of a process from `/proc/<pid>/status` (Linux), shared by the benchmarks.
#![allow(dead_code)]

/// VmRSS and VmHWM (resident set size and its peak) of `pid` (`"self"` for this process), in KiB.
pub fn memory_kib(pid: &str) -> (u64, u64) {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    let field = |name: &str| {
        status
            .lines()
            .find_map(|l| l.strip_prefix(name))
            .and_then(|v| v.split_whitespace().next())
            .and_then(|v| v.parse().ok())
            .unwrap_or(0)
    };
    (field("VmRSS:"), field("VmHWM:"))
}
