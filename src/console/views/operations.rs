//! The operations pane: drains and pulls started from this console, live, until their end state.

use ratatui::buffer::Buffer;
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Paragraph, Widget};

use crate::actions::PullOutcome;
use crate::console::format::ago;
use crate::console::state::State;
use crate::domain::DrainState;

/// True when there is anything to show.
pub fn any(state: &State) -> bool {
    !state.drains.is_empty() || !state.pulls.is_empty()
}

/// Lines the pane needs (borders included); a stuck drain's advice may be cut at the right edge,
/// and the status bar repeats it in full.
pub fn height(state: &State) -> u16 {
    let stuck = state.drains.values().filter(|d| d.stuck.is_some()).count();
    (state.drains.len() + state.pulls.len() + stuck) as u16 + 2
}

/// Draws one line per drain and pull (a stuck drain adds what to do).
pub fn render(state: &State, area: Rect, buf: &mut Buffer) {
    let theme = &state.theme;
    let mut lines = Vec::new();
    for (node, drain) in &state.drains {
        let s = &drain.status;
        let (text, style) = match (s.state, &drain.stuck) {
            (_, Some(_)) => (format!("stuck draining: {} in flight", s.in_flight), theme.warning()),
            (DrainState::Drained, None) => ("drained: nothing in flight on any router".to_string(), theme.accent()),
            (DrainState::Active, None) => ("active again".to_string(), theme.dim()),
            (DrainState::Draining, None) => (
                format!(
                    "draining: {} in flight, {} of {} router(s) busy",
                    s.in_flight, s.busy_routers, s.live_routers
                ),
                theme.warning(),
            ),
        };
        lines.push(Line::from(vec![
            Span::styled(format!("{node:<10} drain  "), theme.text()),
            Span::styled(text, style),
            Span::styled(format!("  ({})", ago(state.now, drain.since)), theme.dim()),
        ]));
        if let Some(stuck) = &drain.stuck {
            lines.push(Line::styled(format!("  {stuck}"), theme.warning()));
        }
    }
    for (node, pull) in &state.pulls {
        let (text, style) = match &pull.outcome {
            None => {
                let percent = pull
                    .fraction
                    .map(|f| format!("{:>3.0}% ", f * 100.0))
                    .unwrap_or_default();
                let bar = pull.fraction.map(gauge).unwrap_or_default();
                (format!("{bar}{percent}{}", pull.status), theme.gauge())
            }
            Some(PullOutcome::Succeeded) => ("succeeded".to_string(), theme.accent()),
            Some(PullOutcome::Cancelled) => ("cancelled".to_string(), theme.dim()),
            Some(PullOutcome::Failed(why)) => (format!("failed: {why}"), theme.warning()),
        };
        lines.push(Line::from(vec![
            Span::styled(format!("{node:<10} pull {}  ", pull.model), theme.text()),
            Span::styled(text, style),
        ]));
    }
    let running = state.pulls.values().any(|p| p.outcome.is_none());
    let title = if running {
        " operations · Esc on a node cancels its pull "
    } else {
        " operations "
    };
    Paragraph::new(lines)
        .block(Block::bordered().border_style(theme.border()).title(title))
        .render(area, buf);
}

/// `▕████░░░░▏ ` for a fraction.
fn gauge(fraction: f64) -> String {
    const WIDTH: usize = 12;
    let filled = ((fraction.clamp(0.0, 1.0) * WIDTH as f64).round() as usize).min(WIDTH);
    format!("▕{}{}▏ ", "█".repeat(filled), "░".repeat(WIDTH - filled))
}
