//! The `:` command line: k9s-style commands with short aliases, parsed into what the keys do.
//! Parsing is pure; [`super::update`] carries the result out.

use crate::actions::BatchAction;
use crate::domain::valid_model_name;

use super::state::View;

/// Every command, for the refusal of an unknown one.
pub const COMMANDS: &str = "fleet|f, decisions|d, spend|s, policy|p, jobs|j, quality, filter TEXT, drain NODE, \
                            undrain NODE, pull NODE MODEL, pull-all MODEL, set KEY VALUE, clear KEY, \
                            pause|resume|cancel|retry BATCH, help|?, quit|q";

/// What a command line asks for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Palette {
    /// Show a view.
    Show(View),
    /// Filter the decisions.
    Filter(String),
    /// Open the drain confirmation for a node.
    Drain(String),
    /// Open the undrain confirmation for a node.
    Undrain(String),
    /// Pull a model onto a node.
    Pull(String, String),
    /// Confirm pulling a model onto every active node.
    PullAll(String),
    /// Confirm setting an override.
    Set(String, String),
    /// Confirm clearing an override.
    Clear(String),
    /// Confirm an action on a batch (its id or the start of it).
    Batch(BatchAction, String),
    /// Open the help.
    Help,
    /// Leave.
    Quit,
}

impl Palette {
    /// True for commands that change the farm.
    pub fn mutates(&self) -> bool {
        matches!(
            self,
            Palette::Drain(_)
                | Palette::Undrain(_)
                | Palette::Pull(..)
                | Palette::PullAll(_)
                | Palette::Set(..)
                | Palette::Clear(_)
                | Palette::Batch(..)
        )
    }
}

/// Reads one command line; the error says what is wrong and what would work.
pub fn parse(line: &str) -> Result<Palette, String> {
    let words: Vec<&str> = line.split_whitespace().collect();
    let arity = |n: usize, usage: &str| {
        if words.len() == n + 1 {
            Ok(())
        } else {
            Err(format!("usage: {usage}"))
        }
    };
    let Some(first) = words.first() else {
        return Err(format!("commands: {COMMANDS}"));
    };
    match first.to_ascii_lowercase().as_str() {
        "fleet" | "f" | "nodes" | "no" | "1" => Ok(Palette::Show(View::Fleet)),
        "decisions" | "d" | "dec" | "log" | "2" => Ok(Palette::Show(View::Decisions)),
        "spend" | "s" | "cost" | "3" => Ok(Palette::Show(View::Spend)),
        "policy" | "p" | "pol" | "4" => Ok(Palette::Show(View::Policy)),
        "jobs" | "j" | "batches" | "5" => Ok(Palette::Show(View::Jobs)),
        "quality" | "qual" | "slo" | "6" => Ok(Palette::Show(View::Quality)),
        "filter" | "/" => Ok(Palette::Filter(words[1..].join(" "))),
        "help" | "?" | "h" => Ok(Palette::Help),
        "quit" | "q" | "exit" => Ok(Palette::Quit),
        "drain" => arity(1, "drain NODE").map(|()| Palette::Drain(words[1].into())),
        "undrain" => arity(1, "undrain NODE").map(|()| Palette::Undrain(words[1].into())),
        "pull" => {
            arity(2, "pull NODE MODEL")?;
            model(words[2]).map(|m| Palette::Pull(words[1].into(), m))
        }
        "pull-all" | "pullall" => {
            arity(1, "pull-all MODEL")?;
            model(words[1]).map(Palette::PullAll)
        }
        "set" => arity(2, "set KEY VALUE").map(|()| Palette::Set(words[1].into(), words[2].into())),
        "clear" => arity(1, "clear KEY").map(|()| Palette::Clear(words[1].into())),
        verb @ ("pause" | "resume" | "cancel" | "retry") => {
            let action = match verb {
                "pause" => BatchAction::Pause,
                "resume" => BatchAction::Resume,
                "cancel" => BatchAction::Cancel,
                _ => BatchAction::Retry,
            };
            arity(1, &format!("{verb} BATCH")).map(|()| Palette::Batch(action, words[1].into()))
        }
        other => Err(format!(
            "unknown command `{}`: {COMMANDS}",
            other.chars().take(24).collect::<String>()
        )),
    }
}

fn model(name: &str) -> Result<String, String> {
    if valid_model_name(name) {
        Ok(name.to_string())
    } else {
        Err("not a model name: [host/][namespace/]name[:tag] of letters, digits, . _ - (e.g. qwen3:8b)".into())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn commands_and_aliases_parse() {
        assert_eq!(parse("dec"), Ok(Palette::Show(View::Decisions)));
        assert_eq!(parse(" Policy "), Ok(Palette::Show(View::Policy)));
        assert_eq!(parse("drain mini-03"), Ok(Palette::Drain("mini-03".into())));
        assert_eq!(
            parse("pull mini-03 qwen3:8b"),
            Ok(Palette::Pull("mini-03".into(), "qwen3:8b".into()))
        );
        assert_eq!(
            parse("set frontier.kill_switch on"),
            Ok(Palette::Set("frontier.kill_switch".into(), "on".into()))
        );
        assert_eq!(parse("filter hr extractor"), Ok(Palette::Filter("hr extractor".into())));
        assert!(parse("pull mini-03 $(id)").unwrap_err().contains("not a model name"));
        assert!(parse("drain").unwrap_err().starts_with("usage: drain NODE"));
        assert_eq!(parse("jobs"), Ok(Palette::Show(View::Jobs)));
        assert_eq!(
            parse("Cancel batch_6a1f"),
            Ok(Palette::Batch(BatchAction::Cancel, "batch_6a1f".into()))
        );
        assert_eq!(parse("retry"), Err("usage: retry BATCH".into()));
        assert!(parse("pause batch_6a1f").is_ok_and(|p| p.mutates()));
        assert!(parse("explode").unwrap_err().starts_with("unknown command `explode`"));
        assert!(parse("drain mini-03").is_ok_and(|p| p.mutates()));
        assert!(!parse("q").is_ok_and(|p| p.mutates()));
    }
}
