//! Per-agent limits: what an `[[agents]]` entry sets, and what `agent.<name>.<limit>` overrides
//! change live.

use serde::Serialize;

use crate::config::AgentKey;

/// One kind of per-agent limit.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum LimitKind {
    /// Requests per minute (per router).
    Rpm,
    /// Tokens per minute (per router): finished requests' tokens plus in-flight estimates.
    Tpm,
    /// Requests in flight at once (per router).
    MaxInFlight,
    /// Frontier spend per UTC day, in USD (fleet-wide).
    DailyUsd,
}

impl LimitKind {
    /// Every kind, in display order.
    pub const ALL: [LimitKind; 4] = [
        LimitKind::Rpm,
        LimitKind::Tpm,
        LimitKind::MaxInFlight,
        LimitKind::DailyUsd,
    ];

    /// The name in config keys, override keys and error codes.
    pub fn as_str(self) -> &'static str {
        match self {
            LimitKind::Rpm => "rpm",
            LimitKind::Tpm => "tpm",
            LimitKind::MaxInFlight => "max_in_flight",
            LimitKind::DailyUsd => "daily_usd",
        }
    }

    /// The kind called `name`.
    pub fn parse(name: &str) -> Option<LimitKind> {
        LimitKind::ALL.into_iter().find(|k| k.as_str() == name)
    }

    /// The error code of a request refused by this limit (`agent_limit:rpm`).
    pub fn code(self) -> String {
        format!("agent_limit:{}", self.as_str())
    }

    /// Parses an override value: `off` for no limit, else a whole number (a dollar amount for
    /// `daily_usd`), 0 or more; `Err` holds what is expected.
    pub fn parse_value(self, value: &str) -> Result<Option<f64>, &'static str> {
        if value == "off" {
            return Ok(None);
        }
        match self {
            LimitKind::DailyUsd => match value.parse::<f64>() {
                Ok(usd) if usd.is_finite() && usd >= 0.0 => Ok(Some(usd)),
                _ => Err("a number of dollars, 0 or more, or off"),
            },
            _ => match value.parse::<u64>() {
                Ok(n) => Ok(Some(n as f64)),
                Err(_) => Err("a whole number, 0 or more, or off"),
            },
        }
    }
}

impl std::fmt::Display for LimitKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The limits of one agent; `None` is no limit.
#[derive(Debug, Clone, Copy, PartialEq, Default, Serialize)]
pub struct AgentLimits {
    /// Requests per minute.
    pub rpm: Option<u64>,
    /// Tokens per minute.
    pub tpm: Option<u64>,
    /// Requests in flight at once.
    pub max_in_flight: Option<u64>,
    /// Frontier USD per UTC day.
    pub daily_usd: Option<f64>,
}

impl AgentLimits {
    /// The limits an `[[agents]]` entry sets.
    pub fn of(agent: &AgentKey) -> AgentLimits {
        AgentLimits {
            rpm: agent.rpm,
            tpm: agent.tpm,
            max_in_flight: agent.max_in_flight,
            daily_usd: agent.daily_usd,
        }
    }

    /// True when no limit is set.
    pub fn is_empty(&self) -> bool {
        *self == AgentLimits::default()
    }

    /// The limit of `kind`, as a number.
    pub fn get(&self, kind: LimitKind) -> Option<f64> {
        match kind {
            LimitKind::Rpm => self.rpm.map(|n| n as f64),
            LimitKind::Tpm => self.tpm.map(|n| n as f64),
            LimitKind::MaxInFlight => self.max_in_flight.map(|n| n as f64),
            LimitKind::DailyUsd => self.daily_usd,
        }
    }

    /// Sets the limit of `kind` (a count is rounded down).
    pub fn set(&mut self, kind: LimitKind, value: Option<f64>) {
        let count = value.map(|v| v.max(0.0) as u64);
        match kind {
            LimitKind::Rpm => self.rpm = count,
            LimitKind::Tpm => self.tpm = count,
            LimitKind::MaxInFlight => self.max_in_flight = count,
            LimitKind::DailyUsd => self.daily_usd = value,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_are_counts_dollars_or_off() {
        assert_eq!(LimitKind::Rpm.parse_value("60"), Ok(Some(60.0)));
        assert_eq!(LimitKind::Rpm.parse_value("off"), Ok(None));
        assert!(LimitKind::Rpm.parse_value("1.5").is_err());
        assert!(LimitKind::MaxInFlight.parse_value("-1").is_err());
        assert_eq!(LimitKind::DailyUsd.parse_value("2.5"), Ok(Some(2.5)));
        assert!(LimitKind::DailyUsd.parse_value("NaN").is_err());
        assert_eq!(LimitKind::parse("max_in_flight"), Some(LimitKind::MaxInFlight));
        assert_eq!(LimitKind::parse("rph"), None);
        assert_eq!(LimitKind::Tpm.code(), "agent_limit:tpm");
    }

    #[test]
    fn set_and_get_round_trip() {
        let mut limits = AgentLimits::default();
        assert!(limits.is_empty());
        for kind in LimitKind::ALL {
            limits.set(kind, Some(3.0));
            assert_eq!(limits.get(kind), Some(3.0), "{kind}");
        }
        limits.set(LimitKind::Rpm, None);
        assert_eq!(limits.rpm, None);
    }
}
