//! Loading `fleet.toml` never panics, and a refusal is one clear line: it names the file and
//! either the key or the line at fault, and says what is wrong.
#![no_main]

use std::path::Path;

use farmhand::config::{ConfigError, FleetConfig};
use libfuzzer_sys::fuzz_target;

/// The 1-based line of a TOML syntax error, counted independently of farmhand.
fn syntax_line(text: &str) -> Option<usize> {
    let err = toml::Deserializer::parse(text).err()?;
    let start = err.span()?.start;
    Some(text.as_bytes()[..start].iter().filter(|&&b| b == b'\n').count() + 1)
}

fuzz_target!(|data: &[u8]| {
    // `FleetConfig::load` refuses a file that is not UTF-8 before parsing it.
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let Err(err) = FleetConfig::parse(text, Path::new("fleet.toml")) else {
        return;
    };
    let shown = err.to_string();
    assert!(shown.starts_with("fleet.toml:"), "names the file: {shown:?}");
    assert!(
        !shown.chars().any(char::is_control),
        "one line, no raw control characters: {shown:?}"
    );
    match err {
        ConfigError::Syntax { line, message, .. } => {
            assert!(!message.trim().is_empty(), "says what is wrong: {shown:?}");
            if let Some(expected) = syntax_line(text) {
                assert_eq!(line, expected, "names the line at fault: {shown:?}");
            }
        }
        ConfigError::Invalid { key, message, .. } => {
            assert!(!key.trim().is_empty(), "names the key: {shown:?}");
            assert!(!message.trim().is_empty(), "says what is wrong: {shown:?}");
        }
        ConfigError::Read { .. } => unreachable!("parsing reads no file"),
    }
});
