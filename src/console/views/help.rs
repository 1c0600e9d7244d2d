//! The `?` overlay: every binding of the key table, scrolled with the row keys when the screen
//! is shorter than the table.

use ratatui::buffer::Buffer;
use ratatui::layout::{Constraint, Flex, Layout, Rect};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Clear, Paragraph, Widget};

use crate::console::keys::Action;
use crate::console::state::State;

/// Draws the help overlay centred in `area`.
pub fn render(state: &State, area: Rect, buf: &mut Buffer) {
    let theme = &state.theme;
    let rows = state.keymap.rows();
    // Borders, a blank line and the footer take four lines; bindings get the rest.
    let room = usize::from(area.height.saturating_sub(4)).max(1);
    let shown = rows.len().min(room);
    let scrolls = shown < rows.len();
    let current = state.help_row.min(rows.len().saturating_sub(1));
    let first = current.saturating_sub(shown.saturating_sub(1));
    let height = shown as u16 + 4;
    let [popup] = Layout::vertical([Constraint::Length(height)])
        .flex(Flex::Center)
        .areas(area);
    let [popup] = Layout::horizontal([Constraint::Length(80)])
        .flex(Flex::Center)
        .areas(popup);
    let mut lines: Vec<Line> = rows
        .iter()
        .enumerate()
        .skip(first)
        .take(shown)
        .map(|(index, b)| {
            let unavailable = if state.read_only {
                Some("unavailable: read-only")
            } else if state.store.outage().is_some() {
                Some("unavailable: no store")
            } else {
                None
            };
            let line = match unavailable.filter(|_| b.action.mutates()) {
                Some(why) => Line::from(vec![
                    Span::styled(format!(" {:<7}", b.label), theme.dim()),
                    Span::styled(format!("{:<48}", b.description), theme.dim()),
                    Span::styled(why, theme.dim()),
                ]),
                None => Line::from(vec![
                    Span::styled(format!(" {:<7}", b.label), theme.accent()),
                    Span::styled(format!("{:<48}", b.description), theme.text()),
                    Span::styled(b.action.name(), theme.dim()),
                ]),
            };
            // While the table scrolls, the current binding shows where the row keys are.
            if scrolls && index == current {
                line.patch_style(theme.selected())
            } else {
                line
            }
        })
        .collect();
    lines.push(Line::raw(""));
    let footer = if scrolls {
        format!(
            " keys {}–{} of {} · {} {} scroll · Esc or ? closes this help",
            first + 1,
            first + shown,
            rows.len(),
            state.keymap.label(Action::Up),
            state.keymap.label(Action::Down)
        )
    } else {
        " Esc or ? closes this help".to_string()
    };
    lines.push(Line::styled(footer, theme.dim()));
    Clear.render(popup, buf);
    Paragraph::new(lines)
        .block(Block::bordered().border_style(theme.accent()).title(" keys "))
        .style(theme.text())
        .render(popup, buf);
}
