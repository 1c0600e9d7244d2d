//! The Policy view: the policy version in force, live overrides, operator-set node states, the
//! live routers (the policy each enforces and how current it is) and the audit trail.

use ratatui::buffer::Buffer;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Paragraph, Row, Table, Widget};

use super::view_block;
use crate::console::settings::SETTINGS;
use crate::console::state::State;

/// Draws the version line, the overrides, the node states, the routers and the audit trail.
pub fn render(state: &State, area: Rect, buf: &mut Buffer) {
    let theme = &state.theme;
    let block = view_block(state, area.width, Line::default());
    let inner = block.inner(area);
    block.render(area, buf);
    let control = &state.control;
    let [version, top, routers, audit] = Layout::vertical([
        Constraint::Length(1),
        Constraint::Length(SETTINGS.len() as u16 + 3),
        Constraint::Length(state.routers.len().clamp(1, MAX_ROUTER_ROWS) as u16 + 3),
        Constraint::Fill(1),
    ])
    .areas(inner);
    render_routers(state, routers, buf);
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

/// Routers listed at most; more are summed up in the title.
const MAX_ROUTER_ROWS: usize = 6;

/// One row per live router (from the presence rows): its policy version, requests in flight, how
/// old its control snapshot is and what it holds for the store, as its status endpoint reports.
fn render_routers(state: &State, area: Rect, buf: &mut Buffer) {
    let theme = &state.theme;
    let rows = state
        .routers
        .iter()
        .take(MAX_ROUTER_ROWS)
        .map(|router| match &router.report {
            Ok(report) => {
                let behind = report.policy_version < state.control.version;
                let control = match (report.control_age_ms, report.control_store_reachable) {
                    (None, _) => "never read".to_string(),
                    (Some(ms), true) => format!("read {:.1} s ago", ms as f64 / 1000.0),
                    (Some(ms), false) => format!("store unreachable: last read {:.0} s ago", ms as f64 / 1000.0),
                };
                let row = Row::new([
                    router.router_id.clone(),
                    format!("v{}", report.policy_version),
                    report.in_flight.to_string(),
                    control,
                    report.held().to_string(),
                ]);
                if behind || !report.control_store_reachable {
                    row.style(theme.warning())
                } else {
                    row.style(theme.text())
                }
            }
            Err(why) => Row::new([
                router.router_id.clone(),
                "?".into(),
                "?".into(),
                format!("status unavailable: {why}"),
                "?".into(),
            ])
            .style(theme.dim()),
        });
    let hidden = state.routers.len().saturating_sub(MAX_ROUTER_ROWS);
    let title = match (state.routers.len(), hidden) {
        (0, _) => " routers: none live ".to_string(),
        (n, 0) => format!(" routers ({n} live) "),
        (n, more) => format!(" routers ({n} live, {more} not shown) "),
    };
    Table::new(
        rows,
        [
            Constraint::Length(22),
            Constraint::Length(7),
            Constraint::Length(9),
            Constraint::Fill(1),
            Constraint::Length(6),
        ],
    )
    .header(Row::new(["ROUTER", "POLICY", "IN FLIGHT", "CONTROL", "HELD"]).style(theme.dim()))
    .style(theme.text())
    .block(Block::bordered().border_style(theme.border()).title(title))
    .render(area, buf);
}
