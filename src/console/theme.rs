//! Colours by semantic role. Themes are TOML files naming a colour per role; the built-in ones
//! (`themes/*.toml`) are embedded, a user folder can add more, and a theme only needs the roles
//! it changes. `NO_COLOR` turns colour off and keeps meaning in text and modifiers.

use std::path::{Path, PathBuf};
use std::str::FromStr;

use ratatui::style::{Color, Modifier, Style};
use serde::Deserialize;

use crate::domain::{Endpoint, MemoryPressure};
use crate::fleet::Health;

/// The built-in themes, by name.
const BUILT_IN: &[(&str, &str)] = &[
    ("dark", include_str!("../../themes/dark.toml")),
    ("light", include_str!("../../themes/light.toml")),
    ("high-contrast", include_str!("../../themes/high-contrast.toml")),
];

/// The colour of every role the console draws with.
#[derive(Debug, Clone, PartialEq)]
pub struct Theme {
    /// Ordinary text.
    pub text: Color,
    /// Secondary text: labels.
    pub dim: Color,
    /// Figures kept from a source that stopped answering (the store during an outage).
    pub stale: Color,
    /// Titles and the active tab.
    pub accent: Color,
    /// Borders.
    pub border: Color,
    /// Header and hint bar background.
    pub bar_bg: Color,
    /// Selected row background.
    pub selected_bg: Color,
    /// Healthy nodes; good news.
    pub up: Color,
    /// Degraded nodes; warnings.
    pub degraded: Color,
    /// Down nodes; errors.
    pub down: Color,
    /// Requests served on the farm.
    pub local: Color,
    /// Requests sent to a frontier API.
    pub frontier: Color,
    /// Requests refused.
    pub rejected: Color,
    /// Memory bars and gauges.
    pub gauge: Color,
    /// True when `NO_COLOR` asked for no colour.
    pub monochrome: bool,
}

/// A theme file: every role optional, so a file overrides only what it names.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct ThemeFile {
    text: Option<String>,
    dim: Option<String>,
    stale: Option<String>,
    accent: Option<String>,
    border: Option<String>,
    bar_bg: Option<String>,
    selected_bg: Option<String>,
    up: Option<String>,
    degraded: Option<String>,
    down: Option<String>,
    local: Option<String>,
    frontier: Option<String>,
    rejected: Option<String>,
    gauge: Option<String>,
}

/// Why a theme could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum ThemeError {
    /// No built-in theme and no user file of that name.
    #[error("unknown theme `{name}` (built in: dark, light, high-contrast; or a file {user_dir}/{name}.toml)")]
    Unknown {
        /// The name asked for.
        name: String,
        /// Where user themes are looked up.
        user_dir: String,
    },
    /// The file is not a valid theme.
    #[error("theme {source_name}: {message}")]
    Invalid {
        /// Which theme or file.
        source_name: String,
        /// What is wrong.
        message: String,
    },
}

impl Default for Theme {
    fn default() -> Self {
        Theme {
            text: Color::Reset,
            dim: Color::DarkGray,
            stale: Color::DarkGray,
            accent: Color::Cyan,
            border: Color::DarkGray,
            bar_bg: Color::Reset,
            selected_bg: Color::DarkGray,
            up: Color::Green,
            degraded: Color::Yellow,
            down: Color::Red,
            local: Color::Green,
            frontier: Color::Magenta,
            rejected: Color::Red,
            gauge: Color::Blue,
            monochrome: false,
        }
    }
}

impl Theme {
    /// The theme called `name`: a user file in `user_dir` wins over a built-in of the same name.
    /// A user theme starts from `dark` and changes only the roles it names.
    pub fn load(name: &str, user_dir: Option<&Path>) -> Result<Theme, ThemeError> {
        let dark = Theme::default().overlay("dark", built_in("dark").unwrap_or_default())?;
        if let Some(dir) = user_dir {
            let path = dir.join(format!("{name}.toml"));
            if let Ok(text) = std::fs::read_to_string(&path) {
                return dark.overlay(&path.display().to_string(), &text);
            }
        }
        match built_in(name) {
            Some(text) => dark.overlay(name, text),
            None => Err(ThemeError::Unknown {
                name: name.to_string(),
                user_dir: user_dir
                    .map(|d| d.display().to_string())
                    .unwrap_or_else(|| "~/.config/farmhand/themes".into()),
            }),
        }
    }

    /// Where user themes live: `$XDG_CONFIG_HOME/farmhand/themes` or `~/.config/farmhand/themes`.
    pub fn user_dir() -> Option<PathBuf> {
        let base = std::env::var_os("XDG_CONFIG_HOME")
            .filter(|v| !v.is_empty())
            .map(PathBuf::from)
            .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".config")))?;
        Some(base.join("farmhand").join("themes"))
    }

    /// True when the `NO_COLOR` convention asks for no colour (set and not empty).
    pub fn no_color_requested() -> bool {
        std::env::var_os("NO_COLOR").is_some_and(|v| !v.is_empty())
    }

    /// The same theme without colour: meaning stays in text, bold and reversed rows.
    pub fn monochrome(mut self) -> Theme {
        for color in [
            &mut self.text,
            &mut self.dim,
            &mut self.stale,
            &mut self.accent,
            &mut self.border,
            &mut self.bar_bg,
            &mut self.selected_bg,
            &mut self.up,
            &mut self.degraded,
            &mut self.down,
            &mut self.local,
            &mut self.frontier,
            &mut self.rejected,
            &mut self.gauge,
        ] {
            *color = Color::Reset;
        }
        self.monochrome = true;
        self
    }

    fn overlay(mut self, source_name: &str, text: &str) -> Result<Theme, ThemeError> {
        let invalid = |message: String| ThemeError::Invalid {
            source_name: source_name.to_string(),
            message,
        };
        let file: ThemeFile = toml::from_str(text).map_err(|e| invalid(e.message().to_string()))?;
        let roles = [
            ("text", file.text, &mut self.text),
            ("dim", file.dim, &mut self.dim),
            ("stale", file.stale, &mut self.stale),
            ("accent", file.accent, &mut self.accent),
            ("border", file.border, &mut self.border),
            ("bar_bg", file.bar_bg, &mut self.bar_bg),
            ("selected_bg", file.selected_bg, &mut self.selected_bg),
            ("up", file.up, &mut self.up),
            ("degraded", file.degraded, &mut self.degraded),
            ("down", file.down, &mut self.down),
            ("local", file.local, &mut self.local),
            ("frontier", file.frontier, &mut self.frontier),
            ("rejected", file.rejected, &mut self.rejected),
            ("gauge", file.gauge, &mut self.gauge),
        ];
        for (role, value, slot) in roles {
            if let Some(value) = value {
                *slot = Color::from_str(&value)
                    .map_err(|_| invalid(format!("`{role}` = \"{value}\" is not a colour (a name or #rrggbb)")))?;
            }
        }
        Ok(self)
    }

    /// Plain text.
    pub fn text(&self) -> Style {
        Style::new().fg(self.text)
    }

    /// Secondary text.
    pub fn dim(&self) -> Style {
        if self.monochrome {
            Style::new().add_modifier(Modifier::DIM)
        } else {
            Style::new().fg(self.dim)
        }
    }

    /// Figures that stopped updating: their last value, never a false zero, shown as old.
    pub fn stale(&self) -> Style {
        if self.monochrome {
            Style::new().add_modifier(Modifier::DIM | Modifier::ITALIC)
        } else {
            Style::new().fg(self.stale).add_modifier(Modifier::ITALIC)
        }
    }

    /// Titles and emphasis.
    pub fn accent(&self) -> Style {
        Style::new().fg(self.accent).add_modifier(Modifier::BOLD)
    }

    /// Block borders.
    pub fn border(&self) -> Style {
        Style::new().fg(self.border)
    }

    /// Header and hint bars.
    pub fn bar(&self) -> Style {
        Style::new().fg(self.text).bg(self.bar_bg)
    }

    /// The selected row.
    pub fn selected(&self) -> Style {
        if self.monochrome {
            Style::new().add_modifier(Modifier::REVERSED)
        } else {
            Style::new().bg(self.selected_bg).add_modifier(Modifier::BOLD)
        }
    }

    /// A node's health.
    pub fn health(&self, health: Health) -> Style {
        let color = match health {
            Health::Up => self.up,
            Health::Degraded => self.degraded,
            Health::Down => self.down,
        };
        let style = Style::new().fg(color);
        if health == Health::Down {
            style.add_modifier(Modifier::BOLD)
        } else {
            style
        }
    }

    /// A node's memory pressure, in the health roles: normal as up, warn as degraded, critical as down.
    pub fn pressure(&self, pressure: MemoryPressure) -> Style {
        self.health(match pressure {
            MemoryPressure::Normal => Health::Up,
            MemoryPressure::Warn => Health::Degraded,
            MemoryPressure::Critical => Health::Down,
        })
    }

    /// A decision's endpoint.
    pub fn endpoint(&self, endpoint: Endpoint) -> Style {
        Style::new().fg(match endpoint {
            Endpoint::Local => self.local,
            Endpoint::Frontier => self.frontier,
            Endpoint::Rejected => self.rejected,
        })
    }

    /// Bars and gauges.
    pub fn gauge(&self) -> Style {
        Style::new().fg(self.gauge)
    }

    /// Warnings (reconnecting, paused, over budget).
    pub fn warning(&self) -> Style {
        Style::new().fg(self.degraded).add_modifier(Modifier::BOLD)
    }
}

fn built_in(name: &str) -> Option<&'static str> {
    BUILT_IN.iter().find(|(n, _)| *n == name).map(|(_, text)| *text)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn built_in_themes_load_and_differ() {
        let dark = Theme::load("dark", None).expect("dark");
        let light = Theme::load("light", None).expect("light");
        let contrast = Theme::load("high-contrast", None).expect("high-contrast");
        assert_ne!(dark, light);
        assert_ne!(dark, contrast);
        assert_eq!(dark.health(Health::Up).fg, Some(Color::Green));
    }

    #[test]
    fn user_theme_overrides_only_what_it_names() {
        let dir = tempfile::tempdir().expect("temp dir");
        std::fs::write(dir.path().join("mine.toml"), "frontier = \"#ff8800\"\n").expect("write");
        let mine = Theme::load("mine", Some(dir.path())).expect("mine");
        let dark = Theme::load("dark", None).expect("dark");
        assert_eq!(mine.frontier, Color::Rgb(0xff, 0x88, 0x00));
        assert_eq!(mine.local, dark.local);
        std::fs::write(dir.path().join("bad.toml"), "up = \"not-a-colour\"\n").expect("write");
        let err = Theme::load("bad", Some(dir.path())).expect_err("bad colour");
        assert!(err.to_string().contains("`up`"), "{err}");
        let err = Theme::load("nope", Some(dir.path())).expect_err("unknown");
        assert!(err.to_string().contains("high-contrast"), "{err}");
    }

    #[test]
    fn monochrome_drops_every_colour() {
        let mono = Theme::load("dark", None).expect("dark").monochrome();
        assert_eq!(mono.endpoint(Endpoint::Frontier).fg, Some(Color::Reset));
        assert!(mono.selected().add_modifier.contains(Modifier::REVERSED));
    }
}
