//! The Policy view: the policy version in force, live overrides, operator-set node states and
//! the audit trail.

use ratatui::buffer::Buffer;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Paragraph, Row, Table, Widget};

use super::view_block;
use crate::console::settings::SETTINGS;
use crate::console::state::State;

/// Draws the version line, the overrides, the node states and the audit trail.
pub fn render(state: &State, area: Rect, buf: &mut Buffer) {
    let theme = &state.theme;
    let block = view_block(state, Line::default());
    let inner = block.inner(area);
    block.render(area, buf);
    let control = &state.control;
    let [version, top, audit] = Layout::vertical([
        Constraint::Length(1),
        Constraint::Length(SETTINGS.len() as u16 + 3),
        Constraint::Fill(1),
    ])
    .areas(inner);
    let [overrides, nodes] = Layout::horizontal([Constraint::Fill(1), Constraint::Length(28)]).areas(top);
    let mut line = vec![
        Span::styled("policy version ", theme.dim()),
        Span::styled(control.version.to_string(), theme.accent()),
    ];
    if let Some(err) = &control.store_error {
        line.push(Span::styled(
            format!("  (last good state; store: {err})"),
            theme.warning(),
        ));
    }
    Paragraph::new(Line::from(line)).render(version, buf);
    let rows: Vec<Row> = SETTINGS
        .iter()
        .enumerate()
        .map(|(index, setting)| {
            let (value, overridden) = state.setting(setting.key);
            let source = if overridden { "override" } else { "default" };
            let row = Row::new([setting.key.to_string(), value.to_string(), source.to_string()]);
            match (index == state.policy_row, overridden) {
                (true, _) => row.style(theme.selected()),
                (false, true) => row.style(theme.accent()),
                (false, false) => row.style(theme.text()),
            }
        })
        .collect();
    let live = control.overrides.len();
    let hint = if state.read_only {
        " read-only ".to_string()
    } else {
        " Enter change · x clear ".to_string()
    };
    Table::new(
        rows,
        [Constraint::Length(26), Constraint::Fill(1), Constraint::Length(8)],
    )
    .header(Row::new(["SETTING", "VALUE", "FROM"]).style(theme.dim()))
    .style(theme.text())
    .block(
        Block::bordered()
            .border_style(theme.border())
            .title(format!(" settings ({live} overridden) "))
            .title(Line::styled(hint, theme.dim()).right_aligned()),
    )
    .render(overrides, buf);
    let mut states: Vec<(&String, _)> = control.node_states.iter().collect();
    states.sort_by(|a, b| a.0.cmp(b.0));
    let rows = states
        .into_iter()
        .map(|(node, drain)| Row::new([node.clone(), drain.as_str().to_string()]));
    Table::new(rows, [Constraint::Fill(1), Constraint::Fill(1)])
        .header(Row::new(["NODE", "STATE"]).style(theme.dim()))
        .style(theme.text())
        .block(Block::bordered().border_style(theme.border()).title(" node states "))
        .render(nodes, buf);
    let rows = state.audit.iter().map(|a| {
        Row::new([
            a.ts.format("%m-%d %H:%M:%S").to_string(),
            a.actor.clone(),
            a.action.clone(),
            a.target.clone(),
            a.detail.clone(),
        ])
    });
    Table::new(
        rows,
        [
            Constraint::Length(14),
            Constraint::Length(12),
            Constraint::Length(14),
            Constraint::Length(18),
            Constraint::Fill(1),
        ],
    )
    .header(Row::new(["WHEN (UTC)", "ACTOR", "ACTION", "TARGET", "DETAIL"]).style(theme.dim()))
    .style(theme.text())
    .block(Block::bordered().border_style(theme.border()).title(" audit trail "))
    .render(audit, buf);
}
