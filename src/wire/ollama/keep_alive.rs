//! `keep_alive`: how long a model stays loaded after a request, as Ollama's `api.Duration` reads it.

use std::fmt;
use std::time::Duration;

use serde::de::{self, Visitor};
use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// How long a model stays loaded after a request finishes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeepAlive {
    /// Unload after this long idle; zero unloads as soon as the request is done.
    For(Duration),
    /// Never unload (any negative value on the wire).
    Forever,
}

impl KeepAlive {
    /// Ollama's default (`OLLAMA_KEEP_ALIVE` unset): five minutes.
    pub const DEFAULT: KeepAlive = KeepAlive::For(Duration::from_secs(300));

    /// True for a zero duration: the model is unloaded right after the request.
    pub fn is_unload(&self) -> bool {
        matches!(self, KeepAlive::For(d) if d.is_zero())
    }

    /// Parses a Go duration string (`"10m"`, `"1h30m"`, `"0"`, `"-1m"`); a bare number without a unit is refused.
    pub fn parse_go(text: &str) -> Result<KeepAlive, KeepAliveError> {
        let bad = || KeepAliveError(text.to_string());
        let (negative, body) = match text.strip_prefix('-') {
            Some(rest) => (true, rest),
            None => (false, text.strip_prefix('+').unwrap_or(text)),
        };
        if body == "0" {
            return Ok(KeepAlive::For(Duration::ZERO));
        }
        if body.is_empty() {
            return Err(bad());
        }
        let mut nanos = 0f64;
        let mut rest = body;
        while !rest.is_empty() {
            let number_len = rest.find(|c: char| !(c.is_ascii_digit() || c == '.')).ok_or_else(bad)?;
            let number: f64 = rest[..number_len].parse().map_err(|_| bad())?;
            rest = &rest[number_len..];
            let unit_len = rest
                .find(|c: char| c.is_ascii_digit() || c == '.')
                .unwrap_or(rest.len());
            let scale = match &rest[..unit_len] {
                "ns" => 1.0,
                "us" | "µs" | "μs" => 1e3,
                "ms" => 1e6,
                "s" => 1e9,
                "m" => 60e9,
                "h" => 3600e9,
                _ => return Err(bad()),
            };
            nanos += number * scale;
            rest = &rest[unit_len..];
        }
        if negative && nanos > 0.0 {
            return Ok(KeepAlive::Forever);
        }
        Ok(KeepAlive::For(Duration::from_nanos(nanos as u64)))
    }

    /// Number of seconds as JSON sends it; negative means forever.
    pub fn from_secs_f64(secs: f64) -> KeepAlive {
        if secs < 0.0 {
            KeepAlive::Forever
        } else if secs.is_finite() {
            KeepAlive::For(Duration::from_secs_f64(secs))
        } else {
            KeepAlive::Forever
        }
    }
}

/// A `keep_alive` string that is not a Go duration.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("time: invalid duration \"{0}\"")]
pub struct KeepAliveError(pub String);

impl Serialize for KeepAlive {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        match self {
            KeepAlive::Forever => serializer.serialize_i64(-1),
            KeepAlive::For(d) if d.subsec_nanos() == 0 => serializer.serialize_u64(d.as_secs()),
            KeepAlive::For(d) => serializer.serialize_f64(d.as_secs_f64()),
        }
    }
}

impl<'de> Deserialize<'de> for KeepAlive {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct KeepAliveVisitor;
        impl Visitor<'_> for KeepAliveVisitor {
            type Value = KeepAlive;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a number of seconds or a duration string such as \"5m\"")
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<KeepAlive, E> {
                Ok(KeepAlive::from_secs_f64(v as f64))
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<KeepAlive, E> {
                Ok(KeepAlive::For(Duration::from_secs(v)))
            }
            fn visit_f64<E: de::Error>(self, v: f64) -> Result<KeepAlive, E> {
                Ok(KeepAlive::from_secs_f64(v))
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<KeepAlive, E> {
                KeepAlive::parse_go(v).map_err(E::custom)
            }
        }
        deserializer.deserialize_any(KeepAliveVisitor)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(json: &str) -> Result<KeepAlive, serde_json::Error> {
        serde_json::from_str(json)
    }

    #[test]
    fn numbers_are_seconds_and_negative_is_forever() {
        assert_eq!(parse("300").unwrap(), KeepAlive::For(Duration::from_secs(300)));
        assert_eq!(parse("0").unwrap(), KeepAlive::For(Duration::ZERO));
        assert!(parse("0").unwrap().is_unload());
        assert_eq!(parse("1.5").unwrap(), KeepAlive::For(Duration::from_millis(1500)));
        assert_eq!(parse("-1").unwrap(), KeepAlive::Forever);
        assert_eq!(parse("-0.5").unwrap(), KeepAlive::Forever);
    }

    #[test]
    fn go_durations_parse() {
        assert_eq!(parse("\"10m\"").unwrap(), KeepAlive::For(Duration::from_secs(600)));
        assert_eq!(parse("\"1h30m\"").unwrap(), KeepAlive::For(Duration::from_secs(5400)));
        assert_eq!(parse("\"0\"").unwrap(), KeepAlive::For(Duration::ZERO));
        assert_eq!(parse("\"-1m\"").unwrap(), KeepAlive::Forever);
        assert_eq!(parse("\"1.5s\"").unwrap(), KeepAlive::For(Duration::from_millis(1500)));
        assert_eq!(parse("\"250ms\"").unwrap(), KeepAlive::For(Duration::from_millis(250)));
    }

    #[test]
    fn bare_number_strings_and_junk_are_refused() {
        for bad in ["\"300\"", "\"\"", "\"5 m\"", "\"m\"", "\"5x\"", "\"-\"", "true"] {
            assert!(parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn serialises_as_seconds() {
        assert_eq!(serde_json::to_string(&KeepAlive::DEFAULT).unwrap(), "300");
        assert_eq!(serde_json::to_string(&KeepAlive::Forever).unwrap(), "-1");
        assert_eq!(
            serde_json::to_string(&KeepAlive::For(Duration::from_millis(1500))).unwrap(),
            "1.5"
        );
    }
}
