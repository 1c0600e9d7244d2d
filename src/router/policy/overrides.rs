//! Live policy overrides: operator settings stored as key/value rows, checked when written
//! ([`validate_override`]) and checked again when read ([`Overrides::from_rows`]), so a row
//! that slipped into the store by hand can never weaken the sensitive invariant.

use std::sync::Arc;

use super::agent_limits::{AgentLimits, LimitKind};
use crate::config::{OverBudget, UnscannableRoute};
use crate::domain::{TaskClass, valid_model_name, wire_enum};

/// The override keys an operator can set (`<class>` is a task class, `<name>` a node).
pub const OVERRIDE_KEYS: &[&str] = &[
    "frontier.kill_switch",
    "class.<class>.target",
    "class.<class>.model",
    "class.<class>.local_under_tokens",
    "budget.daily_usd",
    "budget.over",
    "node.<name>.excluded",
    "policy.unscannable",
    "agent.<name>.rpm",
    "agent.<name>.tpm",
    "agent.<name>.max_in_flight",
    "agent.<name>.daily_usd",
];

/// Longest key or value echoed back in an error message.
const MAX_ECHO: usize = 64;

/// Where an operator pinned a class's work.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ClassTarget {
    /// The farm's nodes.
    Local,
    /// The class's frontier target.
    Frontier,
}

wire_enum!(ClassTarget, "class target", {
    Local => "local",
    Frontier => "frontier",
});

/// Why an override row was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum OverrideError {
    /// The key is not one of [`OVERRIDE_KEYS`].
    #[error(
        "unknown override key `{key}` (known: frontier.kill_switch, class.<class>.target, class.<class>.model, class.<class>.local_under_tokens, budget.daily_usd, budget.over, node.<name>.excluded, policy.unscannable, agent.<name>.<rpm|tpm|max_in_flight|daily_usd>)"
    )]
    UnknownKey {
        /// The offending key.
        key: String,
    },
    /// `class.<class>.…` names no task class.
    #[error("`{key}`: unknown task class `{class}` (expected routine, reasoning, orchestration or sensitive)")]
    UnknownClass {
        /// The full key.
        key: String,
        /// The class part.
        class: String,
    },
    /// The value is not one the key accepts.
    #[error("`{key}`: `{value}` is not valid (expected {expected})")]
    BadValue {
        /// The key.
        key: String,
        /// The offending value.
        value: String,
        /// What the key accepts.
        expected: &'static str,
    },
    /// `agent.<name>.…` names no per-agent limit.
    #[error("`{key}`: unknown agent limit `{limit}` (expected rpm, tpm, max_in_flight or daily_usd)")]
    UnknownLimit {
        /// The full key.
        key: String,
        /// The limit part.
        limit: String,
    },
    /// `agent.<name>.…` names an agent that is not in `[[agents]]`.
    #[error("`{key}`: unknown agent `{agent}` (configured: {known})")]
    UnknownAgent {
        /// The full key.
        key: String,
        /// The agent part.
        agent: String,
        /// The configured agents, comma-separated.
        known: String,
    },
    /// The one override that would break the invariant.
    #[error("sensitive work never leaves the farm: class.sensitive.target cannot be frontier")]
    SensitiveToFrontier,
}

/// One parsed override row.
enum Setting {
    KillSwitch(bool),
    Target(TaskClass, ClassTarget),
    Model(TaskClass, Arc<str>),
    LocalUnder(TaskClass, u64),
    DailyBudget(f64),
    Over(OverBudget),
    Excluded(String, bool),
    Unscannable(UnscannableRoute),
    AgentLimit(String, LimitKind, Option<f64>),
}

/// Checks an override before it is written; the error says why it is refused.
pub fn validate_override(key: &str, value: &str) -> Result<(), OverrideError> {
    parse(key, value).map(|_| ())
}

/// [`validate_override`], and an `agent.<name>.…` key must name one of `agents` (the
/// `[[agents]]` entries).
pub fn validate_override_for(key: &str, value: &str, agents: &[&str]) -> Result<(), OverrideError> {
    if let Setting::AgentLimit(agent, _, _) = parse(key, value)?
        && !agents.contains(&agent.as_str())
    {
        let known = if agents.is_empty() {
            "none; add [[agents]] entries to fleet.toml".to_string()
        } else {
            agents.join(", ")
        };
        return Err(OverrideError::UnknownAgent {
            key: echo(key),
            agent: echo(&agent),
            known,
        });
    }
    Ok(())
}

fn echo(s: &str) -> String {
    s.chars().take(MAX_ECHO).collect()
}

fn bad_value(key: &str, value: &str, expected: &'static str) -> OverrideError {
    OverrideError::BadValue {
        key: echo(key),
        value: echo(value),
        expected,
    }
}

fn parse(key: &str, value: &str) -> Result<Setting, OverrideError> {
    match key {
        "frontier.kill_switch" => match value {
            "on" => Ok(Setting::KillSwitch(true)),
            "off" => Ok(Setting::KillSwitch(false)),
            _ => Err(bad_value(key, value, "on or off")),
        },
        "budget.daily_usd" => match value.parse::<f64>() {
            Ok(usd) if usd.is_finite() && usd >= 0.0 => Ok(Setting::DailyBudget(usd)),
            _ => Err(bad_value(key, value, "a number of dollars, 0 or more")),
        },
        "budget.over" => match value {
            "degrade" => Ok(Setting::Over(OverBudget::Degrade)),
            "refuse" => Ok(Setting::Over(OverBudget::Refuse)),
            _ => Err(bad_value(key, value, "degrade or refuse")),
        },
        "policy.unscannable" => value
            .parse::<UnscannableRoute>()
            .map(Setting::Unscannable)
            .map_err(|_| bad_value(key, value, "local or frontier")),
        _ => {
            if let Some(rest) = key.strip_prefix("class.") {
                parse_class(key, rest, value)
            } else if let Some(name) = key.strip_prefix("node.").and_then(|r| r.strip_suffix(".excluded")) {
                parse_node(key, name, value)
            } else if let Some(rest) = key.strip_prefix("agent.") {
                parse_agent(key, rest, value)
            } else {
                Err(OverrideError::UnknownKey { key: echo(key) })
            }
        }
    }
}

fn parse_class(key: &str, rest: &str, value: &str) -> Result<Setting, OverrideError> {
    let Some((class, field)) = rest.split_once('.') else {
        return Err(OverrideError::UnknownKey { key: echo(key) });
    };
    if !matches!(field, "target" | "model" | "local_under_tokens") {
        return Err(OverrideError::UnknownKey { key: echo(key) });
    }
    let class: TaskClass = class.parse().map_err(|_| OverrideError::UnknownClass {
        key: echo(key),
        class: echo(class),
    })?;
    if field == "local_under_tokens" {
        if class == TaskClass::Sensitive {
            return Err(bad_value(
                key,
                value,
                "no threshold: sensitive work is always local (use routine, reasoning or orchestration)",
            ));
        }
        return value
            .trim()
            .parse::<u64>()
            .map(|tokens| Setting::LocalUnder(class, tokens))
            .map_err(|_| bad_value(key, value, "a whole number of estimated tokens (0: no threshold)"));
    }
    if field == "model" {
        return if valid_model_name(value) {
            Ok(Setting::Model(class, value.into()))
        } else {
            Err(bad_value(key, value, "an Ollama model name such as llama3.1:8b"))
        };
    }
    match value.parse::<ClassTarget>() {
        Ok(ClassTarget::Frontier) if class == TaskClass::Sensitive => Err(OverrideError::SensitiveToFrontier),
        Ok(target) => Ok(Setting::Target(class, target)),
        Err(_) => Err(bad_value(key, value, "local or frontier")),
    }
}

fn parse_node(key: &str, name: &str, value: &str) -> Result<Setting, OverrideError> {
    let name_ok = (1..=63).contains(&name.len())
        && name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-');
    if !name_ok {
        return Err(bad_value(key, name, "a node name of 1-63 characters of a-z, 0-9 and -"));
    }
    match value {
        "true" => Ok(Setting::Excluded(name.to_owned(), true)),
        "false" => Ok(Setting::Excluded(name.to_owned(), false)),
        _ => Err(bad_value(key, value, "true or false")),
    }
}

fn parse_agent(key: &str, rest: &str, value: &str) -> Result<Setting, OverrideError> {
    // Agent names may hold dots: the limit is what follows the last one.
    let Some((agent, limit)) = rest.rsplit_once('.') else {
        return Err(OverrideError::UnknownKey { key: echo(key) });
    };
    let kind = LimitKind::parse(limit).ok_or_else(|| OverrideError::UnknownLimit {
        key: echo(key),
        limit: echo(limit),
    })?;
    if agent.is_empty() || agent.len() > 64 || !agent.bytes().all(|b| b.is_ascii_graphic() || b == b' ') {
        return Err(bad_value(key, agent, "an agent name of 1-64 printable characters"));
    }
    let limit = kind
        .parse_value(value)
        .map_err(|expected| bad_value(key, value, expected))?;
    Ok(Setting::AgentLimit(agent.to_owned(), kind, limit))
}

/// The live overrides in force, at one policy version.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Overrides {
    /// The policy version these overrides belong to.
    pub version: i64,
    /// Frontier kill switch: nothing goes to the frontier while it is on.
    pub kill_switch: bool,
    /// Replaces the fleet's daily frontier budget (USD; 0 means none).
    pub daily_budget_usd: Option<f64>,
    /// Replaces the fleet's over-budget behaviour.
    pub over_budget: Option<OverBudget>,
    /// Pinned targets for routine, reasoning and orchestration; sensitive has no slot.
    targets: [Option<ClassTarget>; 3],
    /// Pinned local models, per class.
    models: [Option<Arc<str>>; 4],
    /// Per-class thresholds: requests estimated under this many tokens stay local.
    local_under: [Option<u64>; 3],
    /// Nodes placement must skip.
    excluded: Vec<Arc<str>>,
    /// Replaces the fleet's `policy.unscannable`.
    pub unscannable: Option<UnscannableRoute>,
    /// Per-agent limits set live (`None`: no limit), replacing the agent's `[[agents]]` ones.
    agent_limits: Vec<(Arc<str>, LimitKind, Option<f64>)>,
}

impl Overrides {
    /// No overrides, at `version`.
    pub fn none(version: i64) -> Overrides {
        Overrides {
            version,
            ..Overrides::default()
        }
    }

    /// Parses store rows; invalid rows are skipped and described in the returned warnings.
    /// Later rows win over earlier rows with the same key.
    pub fn from_rows(rows: &[(String, String)], version: i64) -> (Overrides, Vec<String>) {
        let mut overrides = Overrides::none(version);
        let mut warnings = Vec::new();
        for (key, value) in rows {
            match parse(key, value) {
                Ok(setting) => overrides.apply(setting),
                Err(e) => warnings.push(format!("ignored override: {e}")),
            }
        }
        (overrides, warnings)
    }

    fn apply(&mut self, setting: Setting) {
        match setting {
            Setting::KillSwitch(on) => self.kill_switch = on,
            Setting::Target(class, target) => {
                if let Some(slot) = target_slot(class) {
                    self.targets[slot] = Some(target);
                }
            }
            Setting::Model(class, model) => self.models[class as usize] = Some(model),
            Setting::LocalUnder(class, tokens) => {
                if let Some(slot) = target_slot(class) {
                    self.local_under[slot] = (tokens > 0).then_some(tokens);
                }
            }
            Setting::DailyBudget(usd) => self.daily_budget_usd = Some(usd),
            Setting::Over(over) => self.over_budget = Some(over),
            Setting::Unscannable(route) => self.unscannable = Some(route),
            Setting::AgentLimit(agent, kind, limit) => {
                self.agent_limits.retain(|(a, k, _)| !(**a == *agent && *k == kind));
                self.agent_limits.push((agent.into(), kind, limit));
            }
            Setting::Excluded(name, excluded) => {
                self.excluded.retain(|n| **n != *name);
                if excluded {
                    self.excluded.push(name.into());
                }
            }
        }
    }

    /// The operator's pinned target for `class`; sensitive work is always `Local`.
    pub fn target(&self, class: TaskClass) -> Option<ClassTarget> {
        match target_slot(class) {
            Some(slot) => self.targets[slot],
            None => Some(ClassTarget::Local),
        }
    }

    /// The operator's token threshold for `class`: requests estimated under it stay local
    /// (`class.<class>.local_under_tokens`); none for sensitive work, which always does.
    pub fn local_under_tokens(&self, class: TaskClass) -> Option<u64> {
        target_slot(class).and_then(|slot| self.local_under[slot])
    }

    /// The pinned local model for `class`, if any.
    pub fn model_pin(&self, class: TaskClass) -> Option<&Arc<str>> {
        self.models[class as usize].as_ref()
    }

    /// Whether placement must skip the node called `name`.
    pub fn is_excluded(&self, name: &str) -> bool {
        // Asked of every node at every decision: node names of one length (`mini-01`, `mini-02`)
        // differ at the end, so the last byte turns most of them away before a full compare.
        let last = name.as_bytes().last();
        self.excluded
            .iter()
            .any(|n| n.len() == name.len() && n.as_bytes().last() == last && **n == *name)
    }

    /// The limits of `agent`: `base` (from `[[agents]]`) with any live override applied.
    pub fn agent_limits(&self, agent: &str, base: AgentLimits) -> AgentLimits {
        let mut limits = base;
        for (_, kind, limit) in self.agent_limits.iter().filter(|(a, _, _)| **a == *agent) {
            limits.set(*kind, *limit);
        }
        limits
    }

    /// The agents with a live limit override.
    pub fn agents_with_limits(&self) -> impl Iterator<Item = &str> {
        self.agent_limits.iter().map(|(a, _, _)| &**a)
    }

    /// The excluded nodes.
    pub fn excluded(&self) -> impl Iterator<Item = &str> {
        self.excluded.iter().map(|n| &**n)
    }
}

/// The `targets` slot of a class; sensitive has none, so no row can ever give it a frontier target.
fn target_slot(class: TaskClass) -> Option<usize> {
    match class {
        TaskClass::Routine => Some(0),
        TaskClass::Reasoning => Some(1),
        TaskClass::Orchestration => Some(2),
        TaskClass::Sensitive => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rows(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
    }

    #[test]
    fn accepts_every_documented_key() {
        for (key, value) in [
            ("frontier.kill_switch", "on"),
            ("frontier.kill_switch", "off"),
            ("class.routine.target", "frontier"),
            ("class.reasoning.target", "local"),
            ("class.sensitive.target", "local"),
            ("class.sensitive.model", "qwen3:14b"),
            ("budget.daily_usd", "12.5"),
            ("budget.daily_usd", "0"),
            ("budget.over", "refuse"),
            ("node.mini-03.excluded", "true"),
            ("policy.unscannable", "frontier"),
            ("policy.unscannable", "local"),
            ("agent.planner.rpm", "60"),
            ("agent.planner.tpm", "off"),
            ("agent.team.planner.max_in_flight", "0"),
            ("agent.planner.daily_usd", "2.5"),
        ] {
            assert_eq!(validate_override(key, value), Ok(()), "{key}={value}");
        }
    }

    #[test]
    fn refuses_sensitive_to_frontier_with_the_reason() {
        let err = validate_override("class.sensitive.target", "frontier").unwrap_err();
        assert_eq!(err, OverrideError::SensitiveToFrontier);
        assert!(
            err.to_string().contains("sensitive work never leaves the farm"),
            "{err}"
        );
    }

    #[test]
    fn refuses_bad_keys_and_values() {
        for (key, value, needle) in [
            ("frontier.kill_switch", "yes", "on or off"),
            ("class.auto.target", "local", "unknown task class `auto`"),
            ("class.routine.colour", "red", "unknown override key"),
            ("class.routine.target", "cloud", "local or frontier"),
            ("class.routine.model", "x; rm -rf ~", "model name"),
            ("budget.daily_usd", "-1", "0 or more"),
            ("budget.daily_usd", "NaN", "0 or more"),
            ("budget.daily_usd", "inf", "0 or more"),
            ("budget.over", "panic", "degrade or refuse"),
            ("node.MINI.excluded", "true", "node name"),
            ("node..excluded", "true", "node name"),
            ("node.mini-01.excluded", "1", "true or false"),
            ("policy.unscannable", "cloud", "local or frontier"),
            ("policy.anything", "x", "unknown override key"),
            ("agent.planner.rph", "5", "unknown agent limit `rph`"),
            ("agent.planner", "5", "unknown override key"),
            ("agent..rpm", "5", "agent name"),
            ("agent.planner.rpm", "fast", "a whole number"),
            ("agent.planner.daily_usd", "-3", "number of dollars"),
            ("", "", "unknown override key"),
        ] {
            let err = validate_override(key, value).unwrap_err().to_string();
            assert!(err.contains(needle), "{key}={value}: {err}");
        }
    }

    #[test]
    fn from_rows_applies_valid_rows_and_reports_the_rest() {
        let (o, warnings) = Overrides::from_rows(
            &rows(&[
                ("frontier.kill_switch", "on"),
                ("class.sensitive.target", "frontier"),
                ("class.reasoning.target", "local"),
                ("class.routine.model", "gemma3:4b"),
                ("budget.daily_usd", "20"),
                ("budget.over", "refuse"),
                ("node.mini-01.excluded", "true"),
                ("node.mini-02.excluded", "true"),
                ("node.mini-02.excluded", "false"),
                ("policy.unscannable", "frontier"),
                ("garbage", "x"),
            ]),
            7,
        );
        assert_eq!(warnings.len(), 2, "{warnings:?}");
        assert!(warnings[0].contains("sensitive work never leaves the farm"));
        assert_eq!(o.version, 7);
        assert!(o.kill_switch);
        assert_eq!(o.target(TaskClass::Sensitive), Some(ClassTarget::Local));
        assert_eq!(o.target(TaskClass::Reasoning), Some(ClassTarget::Local));
        assert_eq!(o.target(TaskClass::Routine), None);
        assert_eq!(o.model_pin(TaskClass::Routine).map(|m| &**m), Some("gemma3:4b"));
        assert_eq!(o.model_pin(TaskClass::Sensitive), None);
        assert_eq!(
            (o.daily_budget_usd, o.over_budget),
            (Some(20.0), Some(OverBudget::Refuse))
        );
        assert!(o.is_excluded("mini-01") && !o.is_excluded("mini-02"));
        assert_eq!(o.unscannable, Some(UnscannableRoute::Frontier));
        assert_eq!(o.excluded().collect::<Vec<_>>(), ["mini-01"]);
    }

    #[test]
    fn agent_limits_name_a_configured_agent_and_replace_its_own() {
        let agents = ["planner", "ticket-classifier"];
        assert_eq!(validate_override_for("agent.planner.rpm", "5", &agents), Ok(()));
        let err = validate_override_for("agent.ghost.rpm", "5", &agents)
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("unknown agent `ghost`") && err.contains("planner, ticket-classifier"),
            "{err}"
        );
        assert_eq!(validate_override_for("budget.over", "refuse", &[]), Ok(()));

        let (o, warnings) = Overrides::from_rows(
            &rows(&[
                ("agent.planner.rpm", "5"),
                ("agent.planner.rpm", "7"),
                ("agent.planner.tpm", "off"),
                ("agent.other.daily_usd", "1"),
            ]),
            3,
        );
        assert!(warnings.is_empty(), "{warnings:?}");
        let base = AgentLimits {
            rpm: Some(60),
            tpm: Some(1000),
            max_in_flight: Some(2),
            daily_usd: None,
        };
        let limits = o.agent_limits("planner", base);
        assert_eq!(
            limits,
            AgentLimits {
                rpm: Some(7),
                tpm: None,
                ..base
            }
        );
        assert_eq!(o.agent_limits("nobody", base), base);
    }

    #[test]
    fn long_garbage_is_not_echoed_in_full() {
        let key = "k".repeat(10_000);
        let err = validate_override(&key, "v").unwrap_err().to_string();
        assert!(err.len() < 400, "{}", err.len());
    }
}
