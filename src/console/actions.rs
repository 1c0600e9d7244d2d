//! The console's action runner: takes confirmed [`Command`]s from the UI loop, runs them through
//! the [`Operator`] on tasks of their own, and reports progress back as events. The UI loop never
//! waits for an action.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use tokio::sync::mpsc;
use tokio::task::JoinHandle;

use super::command::{ActionEvent, Command};
use super::event::Event;
use crate::actions::{ActionError, DRAIN_TIMEOUT, Operator};
use crate::fleet::PullEvent;

/// Commands the UI may queue before the runner takes them.
const QUEUE: usize = 64;

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
            match operator.drain(&node, Some("console")).await {
                Ok(status) => send(Event::Action(ActionEvent::Drain(status))).await,
                Err(err) => return send(refused(&err)).await,
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
                    let message = err.to_string();
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
        Command::Undrain { node } => match operator.undrain(&node, Some("console")).await {
            Ok(()) => send(notice(format!("{node}: active again"), true)).await,
            Err(err) => send(refused(&err)).await,
        },
        Command::Pull { node, model } => {
            let mut pull = match operator.start_pull(&node, &model).await {
                Ok(pull) => pull,
                Err(err) => return send(refused(&err)).await,
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
        Command::SetOverride { key, value } => match operator.set_override(&key, &value, Some("console")).await {
            Ok(version) => send(notice(format!("policy version {version}: {key} = {value}"), true)).await,
            Err(err) => send(refused(&err)).await,
        },
        Command::ClearOverride { key } => match operator.clear_override(&key, Some("console")).await {
            Ok(version) => send(notice(format!("policy version {version}: {key} cleared"), true)).await,
            Err(err) => send(refused(&err)).await,
        },
    }
}
