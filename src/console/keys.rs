//! The one key table: key → action → description. The hint bar, the `?` overlay and the key
//! handler all read it, so what the console says a key does is what it does.

use ratatui::crossterm::event::{KeyCode, KeyEvent, KeyEventKind, KeyModifiers};

/// Something a key can make the console do.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    /// Leave the console.
    Quit,
    /// Show the Fleet view.
    ShowFleet,
    /// Show the Decisions view.
    ShowDecisions,
    /// Show the Spend view.
    ShowSpend,
    /// Show the Policy view.
    ShowPolicy,
    /// Show the Jobs view.
    ShowJobs,
    /// Show the Quality view.
    ShowQuality,
    /// Switch the Quality view's window (1 h, 24 h, 7 d).
    QualityWindow,
    /// Cycle to the next view.
    NextView,
    /// Select the row above.
    Up,
    /// Select the row below.
    Down,
    /// Select a page of rows above.
    PageUp,
    /// Select a page of rows below.
    PageDown,
    /// Sort the Fleet view by its next column.
    SortNodes,
    /// Reverse the Fleet view's sort.
    ReverseSort,
    /// Group the Fleet view's nodes by state, or stop.
    GroupNodes,
    /// Start typing a filter.
    Filter,
    /// Close an overlay, or clear the filter.
    Back,
    /// Freeze or resume the decision stream.
    Pause,
    /// Open or close the key help.
    Help,
    /// Drain the selected node (after confirmation).
    Drain,
    /// Undrain the selected node (after confirmation).
    Undrain,
    /// Pull a model onto the selected node.
    Pull,
    /// Pull a model onto every active node (after confirmation).
    PullAll,
    /// Change the selected policy setting (after confirmation).
    Change,
    /// Clear the selected policy override (after confirmation).
    ClearOverride,
    /// Open the `:` command line.
    Command,
    /// Pause or resume the selected batch (after confirmation).
    PauseBatch,
    /// Cancel the selected batch (after confirmation).
    CancelBatch,
    /// Queue the selected batch's failed jobs again (after confirmation).
    RetryBatch,
}

impl Action {
    /// The action's stable name (for remapping and the help overlay).
    pub fn name(self) -> &'static str {
        match self {
            Action::Quit => "quit",
            Action::ShowFleet => "view.fleet",
            Action::ShowDecisions => "view.decisions",
            Action::ShowSpend => "view.spend",
            Action::ShowPolicy => "view.policy",
            Action::ShowJobs => "view.jobs",
            Action::ShowQuality => "view.quality",
            Action::QualityWindow => "quality.window",
            Action::NextView => "view.next",
            Action::Up => "select.up",
            Action::Down => "select.down",
            Action::PageUp => "select.page_up",
            Action::PageDown => "select.page_down",
            Action::SortNodes => "fleet.sort",
            Action::ReverseSort => "fleet.reverse",
            Action::GroupNodes => "fleet.group",
            Action::Filter => "filter",
            Action::Back => "back",
            Action::Pause => "pause",
            Action::Help => "help",
            Action::Drain => "node.drain",
            Action::Undrain => "node.undrain",
            Action::Pull => "node.pull",
            Action::PullAll => "node.pull_all",
            Action::Change => "policy.change",
            Action::ClearOverride => "policy.clear",
            Action::Command => "command",
            Action::PauseBatch => "batch.pause",
            Action::CancelBatch => "batch.cancel",
            Action::RetryBatch => "batch.retry",
        }
    }

    /// The action called `name` (see [`Action::name`]).
    pub fn from_name(name: &str) -> Option<Action> {
        BINDINGS.iter().map(|b| b.action).find(|a| a.name() == name)
    }

    /// True for actions that change the farm (unavailable read-only).
    pub fn mutates(self) -> bool {
        matches!(
            self,
            Action::Drain
                | Action::Undrain
                | Action::Pull
                | Action::PullAll
                | Action::Change
                | Action::ClearOverride
                | Action::PauseBatch
                | Action::CancelBatch
                | Action::RetryBatch
        )
    }
}

/// A key as the table names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Key {
    /// The key code.
    pub code: KeyCode,
    /// Whether Ctrl is held.
    pub ctrl: bool,
}

const fn key(c: char) -> Key {
    Key {
        code: KeyCode::Char(c),
        ctrl: false,
    }
}

const fn special(code: KeyCode) -> Key {
    Key { code, ctrl: false }
}

/// One row of the key table.
#[derive(Debug, Clone, Copy)]
pub struct Binding {
    /// The keys that trigger it.
    pub keys: &'static [Key],
    /// How the keys are written in hints and help.
    pub label: &'static str,
    /// What it triggers.
    pub action: Action,
    /// What it does, in a few words.
    pub description: &'static str,
    /// Its word in the hint bar, when the bar shows it (the overlay shows every binding).
    pub hint: Option<&'static str>,
}

/// Every binding of the console.
pub const BINDINGS: &[Binding] = &[
    Binding {
        keys: &[
            key('q'),
            Key {
                code: KeyCode::Char('c'),
                ctrl: true,
            },
        ],
        label: "q",
        action: Action::Quit,
        description: "quit (also Ctrl-C)",
        hint: Some("quit"),
    },
    Binding {
        keys: &[key('1')],
        label: "1",
        action: Action::ShowFleet,
        description: "fleet: nodes, memory, loaded models",
        hint: None,
    },
    Binding {
        keys: &[key('2')],
        label: "2",
        action: Action::ShowDecisions,
        description: "decisions: the live routing stream",
        hint: None,
    },
    Binding {
        keys: &[key('3')],
        label: "3",
        action: Action::ShowSpend,
        description: "spend: frontier cost vs local volume",
        hint: None,
    },
    Binding {
        keys: &[key('4')],
        label: "4",
        action: Action::ShowPolicy,
        description: "policy: version and overrides",
        hint: None,
    },
    Binding {
        keys: &[key('5')],
        label: "5",
        action: Action::ShowJobs,
        description: "jobs: batches, queue depth, failures",
        hint: None,
    },
    Binding {
        keys: &[key('6')],
        label: "6",
        action: Action::ShowQuality,
        description: "quality: signals and objectives",
        hint: None,
    },
    Binding {
        keys: &[special(KeyCode::Tab)],
        label: "Tab",
        action: Action::NextView,
        description: "next view",
        hint: Some("view"),
    },
    Binding {
        keys: &[special(KeyCode::Up), key('k')],
        label: "↑/k",
        action: Action::Up,
        description: "select the row above",
        hint: None,
    },
    Binding {
        keys: &[special(KeyCode::Down), key('j')],
        label: "↓/j",
        action: Action::Down,
        description: "select the row below",
        hint: None,
    },
    Binding {
        keys: &[special(KeyCode::PageUp)],
        label: "PgUp",
        action: Action::PageUp,
        description: "select a page of rows above",
        hint: None,
    },
    Binding {
        keys: &[special(KeyCode::PageDown)],
        label: "PgDn",
        action: Action::PageDown,
        description: "select a page of rows below",
        hint: None,
    },
    Binding {
        keys: &[key('/')],
        label: "/",
        action: Action::Filter,
        description: "filter decisions, nodes in the Fleet view, batches in the Jobs view",
        hint: Some("filter"),
    },
    Binding {
        keys: &[key('o')],
        label: "o",
        action: Action::SortNodes,
        description: "fleet: sort by name, state, pressure, memory, load, tok/s",
        hint: None,
    },
    Binding {
        keys: &[key('O')],
        label: "O",
        action: Action::ReverseSort,
        description: "fleet: reverse the sort",
        hint: None,
    },
    Binding {
        keys: &[key('g')],
        label: "g",
        action: Action::GroupNodes,
        description: "fleet: group nodes by state, problems first",
        hint: None,
    },
    Binding {
        keys: &[special(KeyCode::Esc)],
        label: "Esc",
        action: Action::Back,
        description: "back: close dialogs, clear filter, cancel pull",
        hint: None,
    },
    Binding {
        keys: &[key(' ')],
        label: "space",
        action: Action::Pause,
        description: "pause or resume the decision stream",
        hint: Some("pause"),
    },
    Binding {
        keys: &[key('?')],
        label: "?",
        action: Action::Help,
        description: "this help",
        hint: Some("help"),
    },
    Binding {
        keys: &[key('d')],
        label: "d",
        action: Action::Drain,
        description: "fleet: drain the selected node",
        hint: None,
    },
    Binding {
        keys: &[key('u')],
        label: "u",
        action: Action::Undrain,
        description: "fleet: undrain the selected node",
        hint: None,
    },
    Binding {
        keys: &[key('p')],
        label: "p",
        action: Action::Pull,
        description: "fleet: pull a model onto the selected node",
        hint: None,
    },
    Binding {
        keys: &[key('P')],
        label: "P",
        action: Action::PullAll,
        description: "fleet: pull a model onto every active node",
        hint: None,
    },
    Binding {
        keys: &[special(KeyCode::Enter)],
        label: "Enter",
        action: Action::Change,
        description: "policy: change the selected setting",
        hint: None,
    },
    Binding {
        keys: &[key('x')],
        label: "x",
        action: Action::ClearOverride,
        description: "policy: clear the selected override",
        hint: None,
    },
    Binding {
        keys: &[key('s')],
        label: "s",
        action: Action::PauseBatch,
        description: "jobs: pause or resume the selected batch",
        hint: None,
    },
    Binding {
        keys: &[key('C')],
        label: "C",
        action: Action::CancelBatch,
        description: "jobs: cancel the selected batch",
        hint: None,
    },
    Binding {
        keys: &[key('r')],
        label: "r",
        action: Action::RetryBatch,
        description: "jobs: retry the selected batch's failed jobs",
        hint: None,
    },
    Binding {
        keys: &[key('w')],
        label: "w",
        action: Action::QualityWindow,
        description: "quality: window 1 h / 24 h / 7 d; spend: breakdowns today / 24 h / 7 d / 30 d",
        hint: None,
    },
    Binding {
        keys: &[key(':')],
        label: ":",
        action: Action::Command,
        description: "command line: views, drain NODE, pull NODE MODEL…",
        hint: Some("cmd"),
    },
];

/// One row of the key map in force: a default binding, or the user's remap of it.
#[derive(Debug, Clone, PartialEq)]
pub struct BoundKeys {
    /// The keys that trigger it.
    pub keys: Vec<Key>,
    /// How the keys are written in hints and help.
    pub label: String,
    /// What it triggers.
    pub action: Action,
    /// What it does, in a few words.
    pub description: &'static str,
    /// Its word in the hint bar, when the bar shows it.
    pub hint: Option<&'static str>,
}

/// A bad `[console.keys]` entry.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("key `console.keys.\"{action}\"`: {reason}")]
pub struct KeyMapError {
    /// The entry's action name.
    pub action: String,
    /// What is wrong with it.
    pub reason: String,
}

/// The key map in force: the default table with the user's remaps applied.
#[derive(Debug, Clone, PartialEq)]
pub struct KeyMap {
    rows: Vec<BoundKeys>,
}

impl Default for KeyMap {
    fn default() -> Self {
        KeyMap {
            rows: BINDINGS
                .iter()
                .map(|b| BoundKeys {
                    keys: b.keys.to_vec(),
                    label: b.label.to_string(),
                    action: b.action,
                    description: b.description,
                    hint: b.hint,
                })
                .collect(),
        }
    }
}

impl KeyMap {
    /// The defaults with `remaps` (action name → keys) applied; a remapped action loses its
    /// default keys. Unknown actions, unreadable keys and keys bound twice are refused.
    pub fn with_remaps<'a>(remaps: impl IntoIterator<Item = (&'a str, Vec<&'a str>)>) -> Result<KeyMap, KeyMapError> {
        let mut map = KeyMap::default();
        let mut remapped = Vec::new();
        for (name, keys) in remaps {
            let fail = |reason: String| KeyMapError {
                action: name.chars().take(40).collect(),
                reason,
            };
            let action =
                Action::from_name(name).ok_or_else(|| fail("no such action (press ? for the names)".into()))?;
            if keys.is_empty() {
                return Err(fail("give at least one key".into()));
            }
            let parsed = keys
                .iter()
                .map(|k| parse_key(k))
                .collect::<Result<Vec<Key>, String>>()
                .map_err(fail)?;
            if let Some(row) = map.rows.iter_mut().find(|r| r.action == action) {
                row.label = keys.join("/");
                row.keys = parsed;
            }
            remapped.push(action);
        }
        let mut seen: Vec<(Key, Action)> = Vec::new();
        for row in &map.rows {
            for key in &row.keys {
                if let Some((_, other)) = seen.iter().find(|(k, _)| k == key) {
                    let (blamed, holder) = if remapped.contains(other) {
                        (*other, row.action)
                    } else {
                        (row.action, *other)
                    };
                    return Err(KeyMapError {
                        action: blamed.name().into(),
                        reason: format!("`{}` is already bound to {}", key_label(*key), holder.name()),
                    });
                }
                seen.push((*key, row.action));
            }
        }
        Ok(map)
    }

    /// The action bound to a key press, if any (releases and repeats of other kinds are
    /// ignored). A read-only console binds no action that changes the farm.
    pub fn action_for(&self, event: &KeyEvent, read_only: bool) -> Option<Action> {
        if event.kind != KeyEventKind::Press {
            return None;
        }
        let pressed = Key {
            code: event.code,
            ctrl: event.modifiers.contains(KeyModifiers::CONTROL),
        };
        self.rows
            .iter()
            .find(|b| b.keys.contains(&pressed))
            .map(|b| b.action)
            .filter(|a| !(read_only && a.mutates()))
    }

    /// Every row, in table order.
    pub fn rows(&self) -> &[BoundKeys] {
        &self.rows
    }

    /// How the keys of `action` are written.
    pub fn label(&self, action: Action) -> &str {
        self.rows
            .iter()
            .find(|r| r.action == action)
            .map_or("", |r| r.label.as_str())
    }
}

/// Reads a key as written in `[console.keys]`: `d`, `D`, `:`, `ctrl-c`, `Tab`, `Enter`, `Esc`,
/// `Space`, `Up`, `Down`, `Left`, `Right`, `Backspace`, `Home`, `End`, `PageUp`, `PageDown`, `F1`–`F12`.
pub fn parse_key(text: &str) -> Result<Key, String> {
    let (ctrl, name) = match text.get(..5) {
        Some(prefix) if prefix.eq_ignore_ascii_case("ctrl-") && text.len() > 5 => (true, &text[5..]),
        _ => (false, text),
    };
    let mut chars = name.chars();
    let code = match (chars.next(), chars.next()) {
        (Some(c), None) if !c.is_control() => KeyCode::Char(if ctrl { c.to_ascii_lowercase() } else { c }),
        _ => match name.to_ascii_lowercase().as_str() {
            "tab" => KeyCode::Tab,
            "enter" | "return" => KeyCode::Enter,
            "esc" | "escape" => KeyCode::Esc,
            "space" => KeyCode::Char(' '),
            "up" => KeyCode::Up,
            "down" => KeyCode::Down,
            "left" => KeyCode::Left,
            "right" => KeyCode::Right,
            "backspace" => KeyCode::Backspace,
            "home" => KeyCode::Home,
            "end" => KeyCode::End,
            "pageup" => KeyCode::PageUp,
            "pagedown" => KeyCode::PageDown,
            f if f.starts_with('f') => match f[1..].parse::<u8>() {
                Ok(n @ 1..=12) => KeyCode::F(n),
                _ => return Err(format!("unknown key `{}`", text.chars().take(20).collect::<String>())),
            },
            _ => return Err(format!("unknown key `{}`", text.chars().take(20).collect::<String>())),
        },
    };
    Ok(Key { code, ctrl })
}

/// How a key is written back: `d`, `ctrl-c`, `Tab`.
fn key_label(key: Key) -> String {
    let name = match key.code {
        KeyCode::Char(' ') => "Space".to_string(),
        KeyCode::Char(c) => c.to_string(),
        KeyCode::F(n) => format!("F{n}"),
        other => format!("{other:?}"),
    };
    if key.ctrl { format!("ctrl-{name}") } else { name }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn press(code: KeyCode, modifiers: KeyModifiers) -> KeyEvent {
        KeyEvent::new(code, modifiers)
    }

    #[test]
    fn every_key_has_one_action() {
        let mut seen = Vec::new();
        for row in BINDINGS {
            for key in row.keys {
                assert!(!seen.contains(key), "{key:?} is bound twice");
                seen.push(*key);
            }
            assert_eq!(KeyMap::default().label(row.action), row.label);
        }
    }

    #[test]
    fn keys_map_to_their_actions() {
        assert_eq!(
            KeyMap::default().action_for(&press(KeyCode::Char('q'), KeyModifiers::NONE), false),
            Some(Action::Quit)
        );
        assert_eq!(
            KeyMap::default().action_for(&press(KeyCode::Char('c'), KeyModifiers::CONTROL), false),
            Some(Action::Quit)
        );
        assert_eq!(
            KeyMap::default().action_for(&press(KeyCode::Char('c'), KeyModifiers::NONE), false),
            None
        );
        assert_eq!(
            KeyMap::default().action_for(&press(KeyCode::Char('j'), KeyModifiers::NONE), false),
            Some(Action::Down)
        );
        assert_eq!(
            KeyMap::default().action_for(&press(KeyCode::Tab, KeyModifiers::NONE), false),
            Some(Action::NextView)
        );
        let mut release = press(KeyCode::Char('q'), KeyModifiers::NONE);
        release.kind = KeyEventKind::Release;
        assert_eq!(KeyMap::default().action_for(&release, false), None);
    }

    #[test]
    fn a_read_only_console_binds_no_mutating_action() {
        let d = press(KeyCode::Char('d'), KeyModifiers::NONE);
        assert_eq!(KeyMap::default().action_for(&d, false), Some(Action::Drain));
        assert_eq!(KeyMap::default().action_for(&d, true), None);
        for binding in BINDINGS.iter().filter(|b| b.action.mutates()) {
            for key in binding.keys {
                let event = press(
                    key.code,
                    if key.ctrl {
                        KeyModifiers::CONTROL
                    } else {
                        KeyModifiers::NONE
                    },
                );
                assert_eq!(KeyMap::default().action_for(&event, true), None, "{}", binding.label);
            }
        }
        let q = press(KeyCode::Char('q'), KeyModifiers::NONE);
        assert_eq!(KeyMap::default().action_for(&q, true), Some(Action::Quit));
    }

    #[test]
    fn remaps_replace_the_defaults_and_bad_ones_say_which_entry() {
        let map = KeyMap::with_remaps([("node.drain", vec!["D"]), ("quit", vec!["q", "ctrl-q"])]).expect("valid");
        assert_eq!(
            map.action_for(&press(KeyCode::Char('D'), KeyModifiers::SHIFT), false),
            Some(Action::Drain)
        );
        assert_eq!(
            map.action_for(&press(KeyCode::Char('d'), KeyModifiers::NONE), false),
            None
        );
        assert_eq!(
            map.action_for(&press(KeyCode::Char('q'), KeyModifiers::CONTROL), false),
            Some(Action::Quit)
        );
        assert_eq!(map.label(Action::Quit), "q/ctrl-q");
        let unknown = KeyMap::with_remaps([("node.explode", vec!["e"])]).unwrap_err();
        assert_eq!(
            unknown.to_string(),
            "key `console.keys.\"node.explode\"`: no such action (press ? for the names)"
        );
        let twice = KeyMap::with_remaps([("node.drain", vec!["u"])]).unwrap_err();
        assert!(
            twice.to_string().contains("`u` is already bound to node.undrain"),
            "{twice}"
        );
        assert!(KeyMap::with_remaps([("help", vec!["ctrl-"])]).is_err());
        assert_eq!(
            parse_key("F5"),
            Ok(Key {
                code: KeyCode::F(5),
                ctrl: false
            })
        );
        assert_eq!(parse_key("Space"), Ok(key(' ')));
        assert!(parse_key("F13").is_err());
    }
}
