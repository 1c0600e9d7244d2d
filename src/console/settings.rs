//! The policy settings the Policy view can change, and their fleet.toml values.

use std::collections::BTreeMap;

use crate::config::FleetConfig;

/// How a setting's value is changed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SettingKind {
    /// Enter steps to the next of these values.
    Choice(&'static [&'static str]),
    /// Enter asks for a number of dollars.
    Dollars,
    /// Enter asks for a model name.
    Model,
}

/// One changeable setting: an override key.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Setting {
    /// The override key.
    pub key: &'static str,
    /// How it changes.
    pub kind: SettingKind,
}

const ON_OFF: &[&str] = &["off", "on"];
const TARGETS: &[&str] = &["local", "frontier"];

/// Every setting, in the order the Policy view lists them.
pub const SETTINGS: &[Setting] = &[
    Setting {
        key: "frontier.kill_switch",
        kind: SettingKind::Choice(ON_OFF),
    },
    Setting {
        key: "budget.daily_usd",
        kind: SettingKind::Dollars,
    },
    Setting {
        key: "budget.over",
        kind: SettingKind::Choice(&["degrade", "refuse"]),
    },
    Setting {
        key: "class.routine.target",
        kind: SettingKind::Choice(TARGETS),
    },
    Setting {
        key: "class.reasoning.target",
        kind: SettingKind::Choice(TARGETS),
    },
    Setting {
        key: "class.orchestration.target",
        kind: SettingKind::Choice(TARGETS),
    },
    Setting {
        key: "class.sensitive.target",
        kind: SettingKind::Choice(TARGETS),
    },
    Setting {
        key: "class.routine.model",
        kind: SettingKind::Model,
    },
    Setting {
        key: "class.reasoning.model",
        kind: SettingKind::Model,
    },
    Setting {
        key: "class.orchestration.model",
        kind: SettingKind::Model,
    },
    Setting {
        key: "class.sensitive.model",
        kind: SettingKind::Model,
    },
    Setting {
        key: "policy.unscannable",
        kind: SettingKind::Choice(TARGETS),
    },
];

impl Setting {
    /// The value after `current` for a choice (wrapping); `None` for typed values.
    pub fn next_choice(&self, current: &str) -> Option<&'static str> {
        let SettingKind::Choice(values) = self.kind else {
            return None;
        };
        let index = values
            .iter()
            .position(|v| *v == current)
            .map_or(0, |i| (i + 1) % values.len());
        values.get(index).copied()
    }
}

/// Each setting's value when no override is set, from fleet.toml.
pub fn base_values(config: &FleetConfig) -> BTreeMap<String, String> {
    let models = &config.models;
    [
        ("frontier.kill_switch", "off".to_string()),
        (
            "budget.daily_usd",
            format!("{}", config.policy.daily_frontier_budget_usd),
        ),
        (
            "budget.over",
            serde_json::to_value(config.policy.over_budget)
                .ok()
                .and_then(|v| v.as_str().map(str::to_string))
                .unwrap_or_default(),
        ),
        ("class.routine.target", "local".into()),
        ("class.reasoning.target", "frontier".into()),
        ("class.orchestration.target", "frontier".into()),
        ("class.sensitive.target", "local".into()),
        ("class.routine.model", models.routine.clone()),
        ("class.reasoning.model", models.reasoning.clone()),
        ("class.orchestration.model", models.orchestration.clone()),
        ("class.sensitive.model", models.sensitive.clone()),
        ("policy.unscannable", config.policy.unscannable.as_str().to_string()),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v))
    .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_setting_has_a_base_value_and_choices_cycle() {
        let base = base_values(&FleetConfig::default());
        for setting in SETTINGS {
            assert!(base.contains_key(setting.key), "{}", setting.key);
            if let Some(next) = setting.next_choice(&base[setting.key]) {
                crate::router::validate_override(setting.key, next)
                    .or_else(|e| {
                        if setting.key == "class.sensitive.target" {
                            Ok(())
                        } else {
                            Err(e)
                        }
                    })
                    .expect("a choice is a valid value");
            }
        }
        assert_eq!(SETTINGS[0].next_choice("off"), Some("on"));
        let prices = FleetConfig::default().frontier_prices(chrono::Utc::now().date_naive());
        assert_eq!(
            prices.len(),
            crate::domain::TaskClass::ALL.len(),
            "every class has a frontier price: {prices:?}"
        );
        assert_eq!(SETTINGS[0].next_choice("on"), Some("off"));
    }
}
