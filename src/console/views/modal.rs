//! Dialogs: a confirmation naming exactly what will change, or a one-line prompt.

use ratatui::buffer::Buffer;
use ratatui::layout::{Constraint, Flex, Layout, Rect};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Clear, Paragraph, Widget, Wrap};

use crate::console::command::Command;
use crate::console::state::{Modal, State};

/// Draws the open dialog centred in `area`.
pub fn render(state: &State, modal: &Modal, area: Rect, buf: &mut Buffer) {
    let theme = &state.theme;
    let (title, mut lines) = match modal {
        Modal::Confirm(confirm) => {
            let mut lines: Vec<Line> = confirm
                .lines
                .iter()
                .map(|l| Line::styled(l.as_str(), theme.text()))
                .collect();
            if let Some(unload) = confirm.commands.iter().find_map(|c| match c {
                Command::Drain { unload, .. } => Some(*unload),
                _ => None,
            }) {
                lines.push(Line::from(vec![
                    Span::styled("m ", theme.accent()),
                    Span::styled(
                        format!("[{}] unload its models once drained", if unload { "x" } else { " " }),
                        theme.text(),
                    ),
                ]));
            }
            lines.push(Line::raw(""));
            lines.push(Line::from(vec![
                Span::styled("y", theme.accent()),
                Span::styled(" confirm   ", theme.text()),
                Span::styled("n/Esc", theme.accent()),
                Span::styled(" cancel", theme.text()),
            ]));
            (confirm.title.as_str(), lines)
        }
        Modal::Prompt(prompt) => {
            let mut lines = vec![Line::from(vec![
                Span::styled("> ", theme.accent()),
                Span::styled(format!("{}▏", prompt.input), theme.text()),
            ])];
            if let Some(error) = &prompt.error {
                lines.push(Line::styled(error.as_str(), theme.warning()));
            }
            lines.push(Line::raw(""));
            lines.push(Line::styled("Enter submit · Esc cancel", theme.dim()));
            (prompt.title.as_str(), lines)
        }
    };
    let width = area.width.min(78);
    let inner_width = usize::from(width.saturating_sub(2)).max(1);
    let rows: usize = lines.iter().map(|l| l.width().div_ceil(inner_width).max(1)).sum();
    let height = (rows as u16).saturating_add(2).min(area.height);
    let [popup] = Layout::vertical([Constraint::Length(height)])
        .flex(Flex::Center)
        .areas(area);
    let [popup] = Layout::horizontal([Constraint::Length(width)])
        .flex(Flex::Center)
        .areas(popup);
    lines.truncate(usize::from(height));
    Clear.render(popup, buf);
    Paragraph::new(lines)
        .wrap(Wrap { trim: false })
        .block(
            Block::bordered()
                .border_style(theme.accent())
                .title(Line::styled(format!(" {title} "), theme.accent())),
        )
        .style(theme.text())
        .render(popup, buf);
}
