//! Memory pressure as the operating system reports it: macOS's own level (the one Activity
//! Monitor's graph colours) with the compressor's size, or on Linux a level read from PSI.

use crate::domain::MemoryPressure;
use crate::wire::PressureReading;

/// PSI `some avg10` (percent of the last 10 s in which a task stalled on memory) at which a
/// Linux node counts as `warn`, and as `critical`.
pub const PSI_SOME_WARN: f64 = 10.0;
/// See [`PSI_SOME_WARN`].
pub const PSI_SOME_CRITICAL: f64 = 40.0;
/// PSI `full avg10` (every task stalled at once) at which a Linux node counts as `critical`.
pub const PSI_FULL_CRITICAL: f64 = 10.0;

/// This machine's memory pressure now; `None` where the OS offers no reading.
pub fn read() -> Option<PressureReading> {
    platform::read()
}

/// The level macOS reports in `kern.memorystatus_vm_pressure_level` (1, 2 or 4).
pub fn level_of_macos(value: i32) -> Option<MemoryPressure> {
    match value {
        1 => Some(MemoryPressure::Normal),
        2 => Some(MemoryPressure::Warn),
        4 => Some(MemoryPressure::Critical),
        _ => None,
    }
}

/// `some` and `full` `avg10` of `/proc/pressure/memory`.
pub fn parse_psi(text: &str) -> Option<(f64, f64)> {
    let avg10 = |kind: &str| {
        text.lines()
            .find(|line| line.split_whitespace().next() == Some(kind))?
            .split_whitespace()
            .find_map(|field| field.strip_prefix("avg10="))?
            .parse::<f64>()
            .ok()
    };
    Some((avg10("some")?, avg10("full").unwrap_or(0.0)))
}

/// The level a PSI reading stands for (thresholds above).
pub fn level_of_psi(some_avg10: f64, full_avg10: f64) -> MemoryPressure {
    if some_avg10 >= PSI_SOME_CRITICAL || full_avg10 >= PSI_FULL_CRITICAL {
        MemoryPressure::Critical
    } else if some_avg10 >= PSI_SOME_WARN {
        MemoryPressure::Warn
    } else {
        MemoryPressure::Normal
    }
}

#[cfg(target_os = "macos")]
mod platform {
    use std::ffi::CStr;

    use crate::wire::PressureReading;

    pub fn read() -> Option<PressureReading> {
        let level = sysctl::<i32>(c"kern.memorystatus_vm_pressure_level").and_then(super::level_of_macos)?;
        Some(PressureReading {
            level,
            source: "macos".into(),
            compressor_bytes: sysctl::<u64>(c"vm.compressor_bytes_used"),
            psi_some_avg10: None,
            psi_full_avg10: None,
        })
    }

    /// A fixed-size integer sysctl by name.
    fn sysctl<T: Copy + Default>(name: &CStr) -> Option<T> {
        let mut value = T::default();
        let mut len = std::mem::size_of::<T>();
        // SAFETY: `value` is a writable `T` of `len` bytes and `name` is NUL-terminated; the
        // kernel writes at most `len` bytes and reports how many it wrote.
        let rc = unsafe {
            libc::sysctlbyname(
                name.as_ptr(),
                (&raw mut value).cast(),
                &mut len,
                std::ptr::null_mut(),
                0,
            )
        };
        (rc == 0 && len == std::mem::size_of::<T>()).then_some(value)
    }
}

#[cfg(target_os = "linux")]
mod platform {
    use crate::wire::PressureReading;

    pub fn read() -> Option<PressureReading> {
        let text = std::fs::read_to_string("/proc/pressure/memory").ok()?;
        let (some, full) = super::parse_psi(&text)?;
        Some(PressureReading {
            level: super::level_of_psi(some, full),
            source: "psi".into(),
            compressor_bytes: None,
            psi_some_avg10: Some(some),
            psi_full_avg10: Some(full),
        })
    }
}

#[cfg(not(any(target_os = "macos", target_os = "linux")))]
mod platform {
    pub fn read() -> Option<crate::wire::PressureReading> {
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const PSI: &str = "some avg10=12.50 avg60=3.10 avg300=0.80 total=123456\n\
                       full avg10=0.40 avg60=0.10 avg300=0.00 total=2345\n";

    #[test]
    fn psi_is_parsed_and_levelled() {
        assert_eq!(parse_psi(PSI), Some((12.5, 0.4)));
        assert_eq!(level_of_psi(12.5, 0.4), MemoryPressure::Warn);
        assert_eq!(level_of_psi(0.0, 0.0), MemoryPressure::Normal);
        assert_eq!(level_of_psi(41.0, 0.0), MemoryPressure::Critical);
        assert_eq!(level_of_psi(5.0, 12.0), MemoryPressure::Critical);
        assert_eq!(parse_psi("garbage"), None);
        assert_eq!(
            parse_psi("some avg10=1.00 avg60=0 avg300=0 total=1\n"),
            Some((1.0, 0.0))
        );
    }

    #[test]
    fn macos_levels_are_the_kernel_constants() {
        assert_eq!(level_of_macos(1), Some(MemoryPressure::Normal));
        assert_eq!(level_of_macos(2), Some(MemoryPressure::Warn));
        assert_eq!(level_of_macos(4), Some(MemoryPressure::Critical));
        assert_eq!(level_of_macos(3), None);
    }

    #[test]
    fn this_machine_reads_the_same_file_the_agent_serves() {
        let from_file = std::fs::read_to_string("/proc/pressure/memory").ok();
        match (read(), from_file) {
            (Some(reading), Some(_)) => {
                assert_eq!(reading.source, "psi");
                assert!(reading.psi_some_avg10.is_some_and(|v| (0.0..=100.0).contains(&v)));
            }
            (None, Some(text)) => panic!("PSI is readable here but was not parsed: {text}"),
            (_, None) => {}
        }
    }
}
