//! The Spend view: frontier spend against local volume for today, 24 h and 7 d, the 24 h
//! breakdown by class and agent, today's budget gauge, and each limited agent's used / limit.

use ratatui::buffer::Buffer;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::text::Line;
use ratatui::widgets::{Block, Gauge, Paragraph, Row, Table, Widget};

use super::view_block;
use crate::console::format::{percent, sparkline};
use crate::console::format::{tokens, usd};
use crate::console::state::State;
use crate::domain::Endpoint;
use crate::store::{AgentLimitLine, LimitUse, SpendGroup, SpendSummary};

/// Draws the spend windows, the breakdowns and the budget gauge.
pub fn render(state: &State, area: Rect, buf: &mut Buffer) {
    let theme = &state.theme;
    // Spend comes from the store: while it is away, its last figures stay, marked with their age.
    let stale = state
        .store_lost_at()
        .map(|lost| crate::console::format::elapsed(state.now, lost));
    let figures = if stale.is_some() { theme.stale() } else { theme.text() };
    let marker = match &stale {
        Some(age) => Line::styled(format!(" stale {age}: the store is unreachable "), theme.stale()).right_aligned(),
        None => Line::default(),
    };
    let block = view_block(state, area.width, marker);
    let inner = block.inner(area);
    block.render(area, buf);
    let Some(spend) = &state.spend else {
        Paragraph::new(Line::styled("waiting for the first spend figures…", theme.dim())).render(inner, buf);
        return;
    };
    let [gauge, windows, hourly, breakdown] = Layout::vertical([
        Constraint::Length(3),
        Constraint::Length(6),
        Constraint::Length(4),
        Constraint::Min(0),
    ])
    .areas(inner);
    let spent = spend.today.endpoint(Endpoint::Frontier).cost_usd;
    let (ratio, label) = if state.budget_usd > 0.0 {
        (
            (spent / state.budget_usd).clamp(0.0, 1.0),
            format!("{} of {} daily budget", usd(spent), usd(state.budget_usd)),
        )
    } else {
        (0.0, format!("{} today, no budget set", usd(spent)))
    };
    Gauge::default()
        .block(
            Block::bordered()
                .border_style(theme.border())
                .title(" frontier budget today "),
        )
        .gauge_style(if ratio >= 1.0 { theme.warning() } else { theme.gauge() })
        .ratio(ratio)
        .label(label)
        .render(gauge, buf);
    let prices = |class: &str| state.frontier_prices.get(class).copied();
    let window_row = |name: &'static str, s: &SpendSummary| {
        let local = s.endpoint(Endpoint::Local);
        let frontier = s.endpoint(Endpoint::Frontier);
        Row::new([
            name.to_string(),
            s.total.requests.to_string(),
            local.requests.to_string(),
            frontier.requests.to_string(),
            s.endpoint(Endpoint::Rejected).requests.to_string(),
            usd(frontier.cost_usd),
            percent(s.local_token_share()),
            usd(s.local_at_frontier_prices(prices)),
        ])
    };
    Table::new(
        [
            window_row("today", &spend.today),
            window_row("24 h", &spend.day),
            window_row("7 d", &spend.week),
        ],
        [
            Constraint::Length(7),
            Constraint::Length(9),
            Constraint::Length(9),
            Constraint::Length(9),
            Constraint::Length(9),
            Constraint::Length(9),
            Constraint::Length(7),
            Constraint::Fill(1),
        ],
    )
    .header(
        Row::new([
            "WINDOW",
            "REQUESTS",
            "LOCAL",
            "FRONTIER",
            "REJECTED",
            "SPEND",
            "LOCAL%",
            "IF FRONTIER",
        ])
        .style(theme.dim()),
    )
    .style(figures)
    .block(
        Block::bordered()
            .border_style(theme.border())
            .title(" spend · IF FRONTIER: the local volume at frontier prices "),
    )
    .render(windows, buf);
    hourly_chart(state, &spend.day, hourly, buf);
    let breakdown = if spend.limits.is_empty() {
        breakdown
    } else {
        let rows = u16::try_from(spend.limits.len()).unwrap_or(u16::MAX).saturating_add(3);
        let [rest, limits] = Layout::vertical([Constraint::Min(0), Constraint::Length(rows)]).areas(breakdown);
        agent_limits(state, &spend.limits, limits, buf);
        rest
    };
    let [by_class, by_agent] = Layout::horizontal([Constraint::Fill(1), Constraint::Fill(1)]).areas(breakdown);
    groups(state, " 24 h by class ", &spend.day.by_class, by_class, buf);
    groups(state, " 24 h by agent ", &spend.day.by_agent, by_agent, buf);
}

/// Frontier dollars and local tokens per hour over the last 24 h, as two labelled sparklines.
fn hourly_chart(state: &State, day: &SpendSummary, area: Rect, buf: &mut Buffer) {
    let theme = &state.theme;
    let block = Block::bordered()
        .border_style(theme.border())
        .title(" last 24 h, per hour (oldest left) ");
    let inner = block.inner(area);
    block.render(area, buf);
    let [frontier_row, local_row] = Layout::vertical([Constraint::Length(1), Constraint::Length(1)]).areas(inner);
    let end = crate::store::hour_floor(state.now);
    let hours: Vec<chrono::DateTime<chrono::Utc>> = (0..24).rev().map(|h| end - chrono::TimeDelta::hours(h)).collect();
    let at = |hour: &chrono::DateTime<chrono::Utc>| day.hourly.iter().find(|h| h.hour == *hour);
    let cents: Vec<u64> = hours
        .iter()
        .map(|h| at(h).map_or(0, |s| (s.frontier.cost_usd * 100.0).round() as u64))
        .collect();
    let local: Vec<u64> = hours
        .iter()
        .map(|h| at(h).map_or(0, |s| u64::try_from(s.local.tokens()).unwrap_or(0)))
        .collect();
    for (row, label, series, total, style) in [
        (
            frontier_row,
            "frontier $ ",
            &cents,
            usd(day.endpoint(Endpoint::Frontier).cost_usd),
            theme.endpoint(Endpoint::Frontier),
        ),
        (
            local_row,
            "local tok  ",
            &local,
            tokens(day.endpoint(Endpoint::Local).tokens()),
            theme.endpoint(Endpoint::Local),
        ),
    ] {
        let [name, chart, sum] =
            Layout::horizontal([Constraint::Length(11), Constraint::Length(48), Constraint::Fill(1)]).areas(row);
        Paragraph::new(Line::styled(label, theme.dim())).render(name, buf);
        Paragraph::new(Line::styled(sparkline(series, 2), style)).render(chart, buf);
        Paragraph::new(Line::styled(format!(" {total} in 24 h"), theme.text())).render(sum, buf);
    }
}

fn groups(state: &State, title: &'static str, groups: &[SpendGroup], area: Rect, buf: &mut Buffer) {
    let theme = &state.theme;
    let rows = groups.iter().map(|g| {
        Row::new([
            g.name.clone(),
            g.line.requests.to_string(),
            tokens(g.line.tokens()),
            usd(g.line.cost_usd),
        ])
    });
    Table::new(
        rows,
        [
            Constraint::Fill(1),
            Constraint::Length(6),
            Constraint::Length(7),
            Constraint::Length(8),
        ],
    )
    .header(Row::new(["NAME", "REQ", "TOKENS", "SPEND"]).style(theme.dim()))
    .style(theme.text())
    .block(Block::bordered().border_style(theme.border()).title(title))
    .render(area, buf);
}

/// Each limited agent's used / limit: rpm, tpm and in flight on its busiest router, frontier
/// spend today across the fleet.
fn agent_limits(state: &State, lines: &[AgentLimitLine], area: Rect, buf: &mut Buffer) {
    let theme = &state.theme;
    let count = |n: f64| format!("{n:.0}");
    let rows = lines.iter().map(|l| {
        Row::new([
            l.agent.clone(),
            used_of(l.rpm, count),
            used_of(l.tpm, count),
            used_of(l.max_in_flight, count),
            used_of(l.daily_usd, usd),
        ])
        .style(if over(l) { theme.warning() } else { theme.text() })
    });
    Table::new(
        rows,
        [
            Constraint::Fill(1),
            Constraint::Length(13),
            Constraint::Length(17),
            Constraint::Length(9),
            Constraint::Length(19),
        ],
    )
    .header(Row::new(["AGENT", "RPM", "TPM", "IN FLIGHT", "SPEND TODAY"]).style(theme.dim()))
    .block(
        Block::bordered()
            .border_style(theme.border())
            .title(" agent limits · used / limit (rpm, tpm, in flight per router) "),
    )
    .render(area, buf);
}

/// `used / limit`, or `used` alone with no limit.
fn used_of(limit: LimitUse, show: impl Fn(f64) -> String) -> String {
    match limit.limit {
        Some(max) => format!("{} / {}", show(limit.used), show(max)),
        None => show(limit.used),
    }
}

/// Whether any of the agent's limits is reached.
fn over(line: &AgentLimitLine) -> bool {
    [line.rpm, line.tpm, line.max_in_flight, line.daily_usd]
        .iter()
        .any(|l| l.limit.is_some_and(|max| l.used >= max))
}
