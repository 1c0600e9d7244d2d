//! Views: pure functions from the state to a buffer. [`render`] draws the whole screen.

pub mod decisions;
pub mod fleet;
pub mod help;
pub mod jobs;
pub mod modal;
pub mod operations;
pub mod policy;
pub mod quality;
pub mod spend;
pub mod trace;

use ratatui::buffer::Buffer;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Paragraph, Widget};

use super::state::{Mode, State, View};

/// Draws the header, the current view, the hint bar and, when open, the help overlay.
pub fn render(state: &State, area: Rect, buf: &mut Buffer) {
    let [header, body, hints] =
        Layout::vertical([Constraint::Length(1), Constraint::Min(0), Constraint::Length(1)]).areas(area);
    super::header::render(state, header, buf);
    match state.view {
        View::Fleet => fleet::render(state, body, buf),
        View::Decisions => decisions::render(state, body, buf),
        View::Spend => spend::render(state, body, buf),
        View::Policy => policy::render(state, body, buf),
        View::Jobs => jobs::render(state, body, buf),
        View::Quality => quality::render(state, body, buf),
    }
    hint_bar(state, hints, buf);
    if state.mode == Mode::Help {
        help::render(state, area, buf);
    }
    if let Some(open) = &state.modal {
        modal::render(state, open, area, buf);
    }
}

/// Widths below which the view tabs name only the current view (the others by number).
const COMPACT_TABS: u16 = 120;

/// The view tabs: `1 Fleet 2 Decisions …`, or on narrow terminals `1 Fleet 2 3 …`.
fn tab_labels(state: &State, width: u16) -> Vec<(String, bool)> {
    View::ALL
        .iter()
        .enumerate()
        .map(|(index, view)| {
            let current = *view == state.view;
            let label = if current || width >= COMPACT_TABS {
                format!("{} {}", index + 1, view.title())
            } else {
                (index + 1).to_string()
            };
            (label, current)
        })
        .collect()
}

/// The bordered block of a view `width` columns wide, its title naming the views with the
/// current one highlighted.
pub fn view_block<'a>(state: &State, width: u16, extra: impl Into<Line<'a>>) -> Block<'a> {
    let theme = &state.theme;
    let mut spans = vec![Span::raw(" ")];
    for (label, current) in tab_labels(state, width) {
        let style = if current {
            theme.selected().patch(theme.accent())
        } else {
            theme.dim()
        };
        spans.push(Span::styled(label, style));
        spans.push(Span::raw(" "));
    }
    Block::bordered()
        .border_style(theme.border())
        .title(Line::from(spans))
        .title(extra.into())
}

/// Columns the view tabs of [`view_block`] take at `width`, its left border included.
pub fn tabs_width(state: &State, width: u16) -> u16 {
    let tabs: usize = tab_labels(state, width)
        .iter()
        .map(|(label, _)| label.chars().count() + 1)
        .sum();
    u16::try_from(tabs + 2).unwrap_or(u16::MAX)
}

/// The bottom line: what the keys do now, from the key table.
fn hint_bar(state: &State, area: Rect, buf: &mut Buffer) {
    let theme = &state.theme;
    let mut spans = Vec::new();
    match state.mode {
        Mode::Filter => {
            let (what, text) = if state.view == View::Jobs {
                (" filter batches: ", &state.batch_filter)
            } else {
                (" filter: ", &state.filter)
            };
            spans.push(Span::styled(what, theme.accent()));
            spans.push(Span::styled(format!("{text}▏"), theme.text()));
            spans.push(Span::styled("  Enter keep · Esc clear", theme.dim()));
        }
        Mode::Command => {
            spans.push(Span::styled(" :", theme.accent()));
            spans.push(Span::styled(format!("{}▏", state.command), theme.text()));
            spans.push(Span::styled(
                "  Enter run · Esc close · help lists commands",
                theme.dim(),
            ));
        }
        Mode::Help | Mode::Normal if state.notice.is_some() => {
            if let Some(notice) = &state.notice {
                let style = if notice.ok { theme.accent() } else { theme.warning() };
                spans.push(Span::styled(format!(" {}", notice.text), style));
            }
        }
        Mode::Help | Mode::Normal => {
            spans.push(Span::raw(" "));
            for binding in state.keymap.rows() {
                if let Some(word) = binding.hint {
                    spans.push(Span::styled(binding.label.as_str(), theme.accent()));
                    spans.push(Span::styled(format!(" {word}  "), theme.dim()));
                }
            }
            spans.push(Span::styled(format!("1-{}", View::ALL.len()), theme.accent()));
            spans.push(Span::styled(" views", theme.dim()));
        }
    }
    Paragraph::new(Line::from(spans)).style(theme.bar()).render(area, buf);
}
