//! Memory of a process from `/proc/<pid>/status` (Linux), shared by the benchmarks.
#![allow(dead_code)]

/// VmRSS and VmHWM (resident set size and its peak) of `pid` (`"self"` for this process), in KiB.
pub fn memory_kib(pid: &str) -> (u64, u64) {
    let status = Status::of(pid);
    (status.field("VmRSS:"), status.field("VmHWM:"))
}

/// How the resident set of `pid` splits, in KiB: (anonymous memory, mapped files such as the
/// binary's code and its libraries).
pub fn resident_split_kib(pid: &str) -> (u64, u64) {
    let status = Status::of(pid);
    (status.field("RssAnon:"), status.field("RssFile:"))
}

/// The text of `/proc/<pid>/status` (empty when it cannot be read).
struct Status(String);

impl Status {
    fn of(pid: &str) -> Status {
        Status(std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default())
    }

    /// The number after `name`, or 0.
    fn field(&self, name: &str) -> u64 {
        self.0
            .lines()
            .find_map(|l| l.strip_prefix(name))
            .and_then(|v| v.split_whitespace().next())
            .and_then(|v| v.parse().ok())
            .unwrap_or(0)
    }
}
