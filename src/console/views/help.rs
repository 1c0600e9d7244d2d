//! The `?` overlay: every binding of the key table.

use ratatui::buffer::Buffer;
use ratatui::layout::{Constraint, Flex, Layout, Rect};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Clear, Paragraph, Widget};

use crate::console::state::State;

/// Draws the help overlay centred in `area`.
pub fn render(state: &State, area: Rect, buf: &mut Buffer) {
    let theme = &state.theme;
    let rows = state.keymap.rows();
    let height = rows.len() as u16 + 4;
    let [popup] = Layout::vertical([Constraint::Length(height)])
        .flex(Flex::Center)
        .areas(area);
    let [popup] = Layout::horizontal([Constraint::Length(80)])
        .flex(Flex::Center)
        .areas(popup);
    let mut lines: Vec<Line> = rows
        .iter()
        .map(|b| {
            let unavailable = if state.read_only {
                Some("unavailable: read-only")
            } else if state.store.outage().is_some() {
                Some("unavailable: no store")
            } else {
                None
            };
            if let Some(why) = unavailable.filter(|_| b.action.mutates()) {
                return Line::from(vec![
                    Span::styled(format!(" {:<7}", b.label), theme.dim()),
                    Span::styled(format!("{:<48}", b.description), theme.dim()),
                    Span::styled(why, theme.dim()),
                ]);
            }
            Line::from(vec![
                Span::styled(format!(" {:<7}", b.label), theme.accent()),
                Span::styled(format!("{:<48}", b.description), theme.text()),
                Span::styled(b.action.name(), theme.dim()),
            ])
        })
        .collect();
    lines.push(Line::raw(""));
    lines.push(Line::styled(" Esc or ? closes this help", theme.dim()));
    Clear.render(popup, buf);
    Paragraph::new(lines)
        .block(Block::bordered().border_style(theme.accent()).title(" keys "))
        .style(theme.text())
        .render(popup, buf);
}
