//! The console loop: keyboard first, then data, then the clock; apply everything pending, then
//! draw once if anything changed. The loop never awaits I/O other than its own channels.

use std::time::Duration;

use chrono::Utc;
use futures::StreamExt;
use ratatui::DefaultTerminal;
use ratatui::crossterm::event::{Event as TermEvent, EventStream};
use tokio::sync::mpsc;
use tokio::time::MissedTickBehavior;

use super::command::Command;
use super::event::Event;
use super::sources::{self, Sources};
use super::state::State;
use super::update::apply;
use super::views;

/// Pending events the sources may queue before they wait for the loop.
const QUEUE: usize = 256;
/// How often the clock ticks.
const TICK: Duration = Duration::from_secs(1);
/// Set to make the console panic after its first frame: checks that the terminal is restored.
pub const FORCE_PANIC_ENV: &str = "FARMHAND_CONSOLE_FORCE_PANIC";

/// Owns the terminal while the console runs; restores it when dropped, on every exit path.
struct TerminalGuard {
    terminal: DefaultTerminal,
}

impl TerminalGuard {
    /// Raw mode, alternate screen, and a panic hook that restores the terminal.
    fn enter() -> std::io::Result<Self> {
        Ok(TerminalGuard {
            terminal: ratatui::try_init()?,
        })
    }
}

impl Drop for TerminalGuard {
    fn drop(&mut self) {
        ratatui::restore();
    }
}

/// Runs the console until the user quits; confirmed actions go through `operator`.
pub async fn run(mut state: State, sources: Sources, operator: crate::actions::Operator) -> anyhow::Result<()> {
    let (events, mut incoming) = mpsc::channel(QUEUE);
    let (commands, runner) = super::actions::spawn(operator, events.clone());
    let mut tasks = sources::spawn(sources, events);
    tasks.push(runner);
    let result = match TerminalGuard::enter() {
        Ok(mut guard) => event_loop(&mut guard.terminal, &mut state, &mut incoming, &commands).await,
        Err(err) => Err(anyhow::anyhow!("cannot take over the terminal: {err}")),
    };
    for task in tasks {
        task.abort();
    }
    result
}

async fn event_loop(
    terminal: &mut DefaultTerminal,
    state: &mut State,
    incoming: &mut mpsc::Receiver<Event>,
    commands: &mpsc::Sender<Command>,
) -> anyhow::Result<()> {
    let mut input = EventStream::new();
    let mut tick = tokio::time::interval(TICK);
    tick.set_missed_tick_behavior(MissedTickBehavior::Skip);
    draw(terminal, state)?;
    if std::env::var_os(FORCE_PANIC_ENV).is_some() {
        panic!("forced panic ({FORCE_PANIC_ENV} is set): the terminal must come back in cooked mode");
    }
    // SIGTERM (or a Ctrl-C sent as a signal) ends the console like `q` does, terminal restored.
    let stop = crate::net::stop_requested();
    tokio::pin!(stop);
    loop {
        let first = tokio::select! {
            biased;
            () = &mut stop => return Ok(()),
            term = input.next() => match term {
                Some(Ok(term)) => match from_terminal(term) {
                    Some(event) => event,
                    None => continue,
                },
                Some(Err(err)) => return Err(anyhow::anyhow!("cannot read the terminal: {err}")),
                None => return Ok(()),
            },
            Some(event) = incoming.recv() => event,
            _ = tick.tick() => Event::Tick(Utc::now()),
        };
        let mut outcome = apply(state, first);
        while !outcome.quit {
            let Ok(event) = incoming.try_recv() else { break };
            let next = apply(state, event);
            outcome.changed |= next.changed;
            outcome.quit |= next.quit;
        }
        if outcome.quit {
            return Ok(());
        }
        for command in state.outbox.drain(..) {
            if commands.try_send(command).is_err() {
                tracing::warn!("the action runner is busy; an action was dropped");
            }
        }
        if outcome.changed {
            draw(terminal, state)?;
        }
    }
}

fn draw(terminal: &mut DefaultTerminal, state: &State) -> anyhow::Result<()> {
    terminal
        .draw(|frame| {
            let area = frame.area();
            views::render(state, area, frame.buffer_mut());
        })
        .map_err(|e| anyhow::anyhow!("cannot draw: {e}"))?;
    Ok(())
}

/// The console event for a terminal event, if it matters.
fn from_terminal(event: TermEvent) -> Option<Event> {
    match event {
        TermEvent::Key(key) => Some(Event::Key(key)),
        TermEvent::Resize(_, _) => Some(Event::Resize),
        _ => None,
    }
}
