//! Views: pure functions from the state to a buffer. [`render`] draws the whole screen.

pub mod decisions;
pub mod fleet;
pub mod help;
pub mod jobs;
pub mod modal;
pub mod operations;
pub mod policy;
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
    }
    hint_bar(state, hints, buf);
    if state.mode == Mode::Help {
        help::render(state, area, buf);
    }
    if let Some(open) = &state.modal {
        modal::render(state, open, area, buf);
    }
}

/// The bordered block of a view, its title naming every view with the current one highlighted.
pub fn view_block<'a>(state: &State, extra: impl Into<Line<'a>>) -> Block<'a> {
    let theme = &state.theme;
    let mut spans = vec![Span::raw(" ")];
    for (index, view) in View::ALL.iter().enumerate() {
        let style = if *view == state.view {
            theme.selected().patch(theme.accent())
        } else {
            theme.dim()
        };
        spans.push(Span::styled(format!("{} {}", index + 1, view.title()), style));
        spans.push(Span::raw(" "));
    }
    Block::bordered()
        .border_style(theme.border())
        .title(Line::from(spans))
        .title(extra.into())
}

/// Columns the view tabs of [`view_block`] take, its left border included.
pub fn tabs_width() -> u16 {
    let tabs: usize = View::ALL
        .iter()
        .enumerate()
        .map(|(index, view)| format!("{} {} ", index + 1, view.title()).chars().count())
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
