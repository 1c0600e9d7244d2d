//! What the console may do while the store is away, said in an operator's words. Drains,
//! undrains, pulls, policy changes and batch actions all go through the store (routers learn of
//! them there; pulls are recorded there before they start; batches live there), so they are
//! refused before any confirmation opens; routing goes on meanwhile, on the last policy the
//! routers saw.

use super::command::Command;
use super::keys::Action;
use super::state::State;

/// Why `action` cannot be done now because the store is unreachable; `None` when it can (or
/// when it does not change the farm).
pub fn refusal(state: &State, action: Action) -> Option<String> {
    state.store.outage()?;
    let version = state.control.version;
    let why = match action {
        Action::Drain => {
            format!(
                "routers learn of drains through it, so none can start now; routing continues on the last policy (v{version})"
            )
        }
        Action::Undrain => format!(
            "routers learn of undrains through it, so none can start now; routing continues on the last policy (v{version})"
        ),
        Action::Pull | Action::PullAll => {
            "every pull is recorded there before it starts, so none can start now; pulls already running carry on"
                .into()
        }
        Action::Change | Action::ClearOverride => format!(
            "routers take policy changes from it, so none can be made now; routing continues on the last policy (v{version})"
        ),
        Action::PauseBatch | Action::CancelBatch | Action::RetryBatch => {
            "batches are queued there, so none can be paused, resumed, cancelled or retried now; \
             attempts already running carry on"
                .into()
        }
        _ => return None,
    };
    Some(format!("the store is unreachable: {why}"))
}

/// The refusal for a confirmed command, when the store went away while its dialog was open.
pub fn command_refusal(state: &State, command: &Command) -> Option<String> {
    let action = match command {
        Command::Drain { .. } => Action::Drain,
        Command::Undrain { .. } => Action::Undrain,
        Command::Pull { .. } => Action::Pull,
        Command::SetOverride { .. } => Action::Change,
        Command::ClearOverride { .. } => Action::ClearOverride,
        Command::Batch { action, .. } => batch_key(*action),
        Command::CancelPull { .. } => return None,
    };
    refusal(state, action)
}

/// The key that asks for a batch action.
pub fn batch_key(action: crate::actions::BatchAction) -> Action {
    use crate::actions::BatchAction;
    match action {
        BatchAction::Pause | BatchAction::Resume => Action::PauseBatch,
        BatchAction::Cancel => Action::CancelBatch,
        BatchAction::Retry => Action::RetryBatch,
    }
}

#[cfg(test)]
mod tests {
    use chrono::{TimeDelta, Utc};

    use super::*;
    use crate::console::state::{StoreOutage, StoreStatus};
    use crate::console::theme::Theme;

    fn down() -> State {
        let now = Utc::now();
        let mut state = State::new(now, Theme::default());
        state.store = StoreStatus::Down(StoreOutage {
            since: now - TimeDelta::seconds(30),
            attempt: 4,
            retry_at: None,
            error: "no answer within 1.0 s".into(),
        });
        state
    }

    #[test]
    fn every_change_is_refused_in_operator_words_while_the_store_is_away() {
        let state = down();
        let drain = refusal(&state, Action::Drain).expect("refused");
        assert_eq!(
            drain,
            "the store is unreachable: routers learn of drains through it, so none can start now; routing continues on the last policy (v0)"
        );
        for action in [
            Action::Undrain,
            Action::Pull,
            Action::PullAll,
            Action::Change,
            Action::ClearOverride,
            Action::PauseBatch,
            Action::CancelBatch,
            Action::RetryBatch,
        ] {
            let why = refusal(&state, action).expect("refused");
            assert!(why.starts_with("the store is unreachable: "), "{why}");
            assert!(!why.contains("pool") && !why.contains("sqlx"), "no driver words: {why}");
        }
        for action in [
            Action::Quit,
            Action::Pause,
            Action::ShowDecisions,
            Action::Back,
            Action::Help,
        ] {
            assert_eq!(refusal(&state, action), None, "{action:?} does not need the store");
        }
        assert_eq!(
            command_refusal(&state, &Command::CancelPull { node: "mini-01".into() }),
            None
        );
        assert!(command_refusal(&state, &Command::Undrain { node: "mini-01".into() }).is_some());
    }

    #[test]
    fn nothing_is_refused_while_the_store_answers() {
        let mut state = down();
        state.store = StoreStatus::Connected;
        assert_eq!(refusal(&state, Action::Drain), None);
        assert_eq!(
            command_refusal(
                &state,
                &Command::Pull {
                    node: "a".into(),
                    model: "m".into()
                }
            ),
            None
        );
    }
}
