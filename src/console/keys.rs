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
    /// Cycle to the next view.
    NextView,
    /// Select the row above.
    Up,
    /// Select the row below.
    Down,
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
            Action::NextView => "view.next",
            Action::Up => "select.up",
            Action::Down => "select.down",
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
        }
    }

    /// True for actions that change the farm (unavailable read-only).
    pub fn mutates(self) -> bool {
        matches!(
            self,
            Action::Drain | Action::Undrain | Action::Pull | Action::PullAll | Action::Change | Action::ClearOverride
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
        hint: Some("up"),
    },
    Binding {
        keys: &[special(KeyCode::Down), key('j')],
        label: "↓/j",
        action: Action::Down,
        description: "select the row below",
        hint: Some("down"),
    },
    Binding {
        keys: &[key('/')],
        label: "/",
        action: Action::Filter,
        description: "filter decisions (class, agent, endpoint, node)",
        hint: Some("filter"),
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
];

/// The action bound to a key press, if any (releases and repeats of other kinds are ignored).
/// A read-only console binds no action that changes the farm.
pub fn action_for(event: &KeyEvent, read_only: bool) -> Option<Action> {
    if event.kind != KeyEventKind::Press {
        return None;
    }
    let pressed = Key {
        code: event.code,
        ctrl: event.modifiers.contains(KeyModifiers::CONTROL),
    };
    BINDINGS
        .iter()
        .find(|b| b.keys.contains(&pressed))
        .map(|b| b.action)
        .filter(|a| !(read_only && a.mutates()))
}

/// The binding of an action (its first row in the table).
pub fn binding(action: Action) -> Option<&'static Binding> {
    BINDINGS.iter().find(|b| b.action == action)
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
            assert_eq!(binding(row.action).map(|b| b.label), Some(row.label));
        }
    }

    #[test]
    fn keys_map_to_their_actions() {
        assert_eq!(
            action_for(&press(KeyCode::Char('q'), KeyModifiers::NONE), false),
            Some(Action::Quit)
        );
        assert_eq!(
            action_for(&press(KeyCode::Char('c'), KeyModifiers::CONTROL), false),
            Some(Action::Quit)
        );
        assert_eq!(action_for(&press(KeyCode::Char('c'), KeyModifiers::NONE), false), None);
        assert_eq!(
            action_for(&press(KeyCode::Char('j'), KeyModifiers::NONE), false),
            Some(Action::Down)
        );
        assert_eq!(
            action_for(&press(KeyCode::Tab, KeyModifiers::NONE), false),
            Some(Action::NextView)
        );
        let mut release = press(KeyCode::Char('q'), KeyModifiers::NONE);
        release.kind = KeyEventKind::Release;
        assert_eq!(action_for(&release, false), None);
    }

    #[test]
    fn a_read_only_console_binds_no_mutating_action() {
        let d = press(KeyCode::Char('d'), KeyModifiers::NONE);
        assert_eq!(action_for(&d, false), Some(Action::Drain));
        assert_eq!(action_for(&d, true), None);
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
                assert_eq!(action_for(&event, true), None, "{}", binding.label);
            }
        }
        let q = press(KeyCode::Char('q'), KeyModifiers::NONE);
        assert_eq!(action_for(&q, true), Some(Action::Quit));
    }
}
