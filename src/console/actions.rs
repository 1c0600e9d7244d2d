//! The console's action runner: takes confirmed [`Command`]s from the UI loop, runs them through
//! the [`Operator`] on tasks of their own, and reports progress back as events. The UI loop never
//! waits for an action.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::sync::mpsc;
use tokio::task::JoinHandle;

use super::command::{ActionEvent, Command};
use super::event::Event;
use crate::actions::{ActionError, DRAIN_TIMEOUT, Operator};
use crate::fleet::PullEvent;

/// Commands the UI may queue before the runner takes them.
const QUEUE: usize = 64;
/// Longest the store may take to record an action: as for every store query of the console,
/// under the 2 s within which an operator must see that the store is gone.
const RECORD_TIMEOUT: Duration = Duration::from_millis(1500);

/// Starts the runner; send it commands on the returned sender.
pub fn spawn(operator: Operator, events: mpsc::Sender<Event>) -> (mpsc::Sender<Command>, JoinHandle<()>) {
    let (commands, mut incoming) = mpsc::channel::<Command>(QUEUE);
    let task = tokio::spawn(async move {
        let cancels: Arc<Mutex<HashMap<String, Arc<AtomicBool>>>> = Arc::default();
        while let Some(command) = incoming.recv().await {
            tokio::spawn(run(operator.clone(), command, events.clone(), cancels.clone()));
        }
    });
    (commands, task)
}

fn notice(text: String, ok: bool) -> Event {
    Event::Action(ActionEvent::Notice { text, ok })
}

fn refused(err: &ActionError) -> Event {
    notice(err.to_string(), false)
}

/// What to do after a drain, pull or policy change the store may not have recorded.
const CHECK_ROUTING: &str =
    "routing continues on the last policy; check the Fleet and Policy views once the store is back";
/// What to do after a batch action the store may not have recorded.
const CHECK_JOBS: &str = "workers carry on as before; check the Jobs view once the store is back";

/// Runs the store-touching start of an action within [`RECORD_TIMEOUT`]; past it, the action is
/// reported as not known to be recorded, followed by `check`: what to do.
async fn recorded<T>(
    what: &str,
    check: &str,
    action: impl std::future::Future<Output = Result<T, ActionError>>,
) -> Result<T, Event> {
    match tokio::time::timeout(RECORD_TIMEOUT, action).await {
        Ok(Ok(value)) => Ok(value),
        Ok(Err(err)) => Err(refused(&err)),
        Err(_) => Err(notice(
            format!(
                "{what}: the store did not answer within {:.1} s, so it may not have been recorded; {check}",
                RECORD_TIMEOUT.as_secs_f64()
            ),
            false,
        )),
    }
}

async fn run(
    operator: Operator,
    command: Command,
    events: mpsc::Sender<Event>,
    cancels: Arc<Mutex<HashMap<String, Arc<AtomicBool>>>>,
) {
    let send = |event: Event| {
        let events = events.clone();
        async move {
            let _ = events.send(event).await;
        }
    };
    match command {
        Command::Drain { node, unload } => {
            match recorded(
                &format!("drain {node}"),
                CHECK_ROUTING,
                operator.drain(&node, Some("console")),
            )
            .await
            {
                Ok(status) => send(Event::Action(ActionEvent::Drain(status))).await,
                Err(event) => return send(event).await,
            }
            let waited = operator
                .wait_drained(&node, DRAIN_TIMEOUT, |status| {
                    let _ = events.try_send(Event::Action(ActionEvent::Drain(status.clone())));
                })
                .await;
            match waited {
                Ok(status) => {
                    send(Event::Action(ActionEvent::Drain(status))).await;
                    send(notice(format!("{node}: drained"), true)).await;
                }
                Err(err) => {
                    let message = match err {
                        ActionError::Store(_) => format!(
                            "the store went away while {node} was draining: the drain stands and routers keep \
                             placing nothing new there; `drained` shows once the store is back \
                             (`farmhand node drain {node} --wait` waits again)"
                        ),
                        other => other.to_string(),
                    };
                    return send(Event::Action(ActionEvent::DrainStuck { node, message })).await;
                }
            }
            if unload {
                match operator.unload(&node).await {
                    Ok(models) if models.is_empty() => send(notice(format!("{node}: nothing was loaded"), true)).await,
                    Ok(models) => send(notice(format!("{node}: unloaded {}", models.join(", ")), true)).await,
                    Err(err) => send(refused(&err)).await,
                }
            }
        }
        Command::Undrain { node } => {
            match recorded(
                &format!("undrain {node}"),
                CHECK_ROUTING,
                operator.undrain(&node, Some("console")),
            )
            .await
            {
                Ok(()) => send(notice(format!("{node}: active again"), true)).await,
                Err(event) => send(event).await,
            }
        }
        Command::Pull { node, model } => {
            let mut pull = match recorded(
                &format!("pull {model} onto {node}"),
                CHECK_ROUTING,
                operator.start_pull(&node, &model),
            )
            .await
            {
                Ok(pull) => pull,
                Err(event) => return send(event).await,
            };
            if let Ok(mut map) = cancels.lock() {
                map.insert(node.clone(), pull.canceller());
            }
            send(Event::Action(ActionEvent::PullStarted {
                node: node.clone(),
                model: model.clone(),
            }))
            .await;
            let mut tally = crate::fleet::PullTally::default();
            while let Some(event) = pull.next_event().await {
                match event {
                    PullEvent::Progress(progress) => {
                        tally.add(&progress);
                        let _ = events.try_send(Event::Action(ActionEvent::PullProgress {
                            node: node.clone(),
                            fraction: tally.fraction(),
                            progress,
                        }));
                    }
                    PullEvent::HostKeyLearned { host, fingerprint } => {
                        send(notice(
                            format!("{node}: trusted new host key {fingerprint} for {host} (audited)"),
                            true,
                        ))
                        .await;
                    }
                }
            }
            let outcome = pull.finish().await;
            if let Ok(mut map) = cancels.lock() {
                map.remove(&node);
            }
            send(Event::Action(ActionEvent::PullEnded { node, outcome })).await;
        }
        Command::CancelPull { node } => {
            let flag = cancels.lock().ok().and_then(|map| map.get(&node).cloned());
            let text = match flag {
                Some(flag) => {
                    flag.store(true, Ordering::Relaxed);
                    format!("{node}: cancelling the pull")
                }
                None => format!("{node}: no pull is running"),
            };
            send(notice(text, true)).await;
        }
        Command::SetOverride { key, value } => {
            let change = operator.set_override(&key, &value, Some("console"));
            match recorded(&format!("set {key}"), CHECK_ROUTING, change).await {
                Ok(version) => send(notice(format!("policy version {version}: {key} = {value}"), true)).await,
                Err(event) => send(event).await,
            }
        }
        Command::ClearOverride { key } => {
            let change = operator.clear_override(&key, Some("console"));
            match recorded(&format!("clear {key}"), CHECK_ROUTING, change).await {
                Ok(version) => send(notice(format!("policy version {version}: {key} cleared"), true)).await,
                Err(event) => send(event).await,
            }
        }
        Command::Batch { id, action } => {
            let change = operator.batch_action(&id, action, Some("console"));
            match recorded(&format!("{} {id}", action.verb()), CHECK_JOBS, change).await {
                Ok(change) => send(notice(change.summary(), true)).await,
                Err(event) => send(event).await,
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn an_action_the_store_does_not_answer_gives_up_in_under_two_seconds() {
        let started = tokio::time::Instant::now();
        let silent = std::future::pending::<Result<(), ActionError>>();
        let Err(event) = recorded("drain mini-01", CHECK_ROUTING, silent).await else {
            panic!("a store that never answers cannot record anything");
        };
        assert!(started.elapsed() < Duration::from_secs(2));
        match event {
            Event::Action(ActionEvent::Notice { text, ok }) => {
                assert!(!ok);
                assert!(
                    text.starts_with("drain mini-01: the store did not answer within 1.5 s"),
                    "{text}"
                );
            }
            other => panic!("expected a notice, got {other:?}"),
        }
        let answered = recorded("undrain mini-01", CHECK_ROUTING, async { Ok::<_, ActionError>(7) }).await;
        assert!(matches!(answered, Ok(7)));
    }
}
