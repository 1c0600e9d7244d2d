//! The content detectors on arbitrary text: they never panic, and `scan_text` (with every detector
//! on, or with any subset) names exactly the first detector, in `Detector::ALL` order, of those
//! that fire when run alone: the shared passes lose and invent nothing.
#![no_main]

use farmhand::router::{Detector, DetectorSet, detect};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Some((&mask, rest)) = data.split_first() else {
        return;
    };
    let text = String::from_utf8_lossy(rest);
    let alone: Vec<Detector> = Detector::ALL.into_iter().filter(|d| d.fires_on(&text)).collect();
    assert_eq!(detect::scan_text(&text, DetectorSet::ALL), alone.first().copied());

    let enabled = Detector::ALL
        .into_iter()
        .enumerate()
        .filter(|(i, _)| (u32::from(mask).rotate_left(*i as u32) ^ 0x5a) & 1 == 1)
        .fold(DetectorSet::NONE, |set, (_, d)| set.with(d));
    let first_enabled = alone.iter().copied().find(|d| enabled.contains(*d));
    assert_eq!(detect::scan_text(&text, enabled), first_enabled);
    assert_eq!(detect::scan(&[&text], enabled), first_enabled);
});
