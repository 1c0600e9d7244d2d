//! The Spend view, for leads deciding what moves local: today's budget with the burn rate and
//! where it leads, the windows (today, 24 h, 7 d, 30 d) with the money the farm saved and the
//! quality spend apart, the trends (24 h by hour, 7 and 30 days by day), and the breakdowns by
//! class, agent, model and node over the window `w` selects. A narrow terminal keeps the headline.

use chrono::{DateTime, Datelike, TimeDelta, Utc};
use ratatui::buffer::Buffer;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::Style;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Bar, BarChart, BarGroup, Block, Gauge, Paragraph, Row, Table, Widget, Wrap};

use super::view_block;
use crate::console::format::{percent, sparkline};
use crate::console::format::{tokens, usd};
use crate::console::state::{SpendWindows, State};
use crate::domain::{Burn, Endpoint, RunsOut};
use crate::store::{AgentLimitLine, PeriodSpend, SpendGroup, SpendSummary, day_floor, hour_floor};

/// From this width the breakdowns sit side by side and the trends beside the 7-day bars.
const WIDE: u16 = 120;
/// From this height the trends and breakdowns are drawn; below it, only the headline figures.
const TALL: u16 = 30;

/// Draws the budget, the windows, the trends and the breakdowns.
pub fn render(state: &State, area: Rect, buf: &mut Buffer) {
    let theme = &state.theme;
    // Spend comes from the store: while it is away, its last figures stay, marked with their age.
    let stale = state
        .store_lost_at()
        .map(|lost| crate::console::format::elapsed(state.now, lost));
    let marker = match &stale {
        Some(age) => Line::styled(format!(" stale {age}: the store is unreachable "), theme.stale()).right_aligned(),
        None => Line::styled(format!(" breakdowns {} (w) ", state.spend_span.label()), theme.dim()).right_aligned(),
    };
    let block = view_block(state, area.width, marker);
    let inner = block.inner(area);
    block.render(area, buf);
    let Some(spend) = &state.spend else {
        Paragraph::new(Line::styled("waiting for the first spend figures…", theme.dim())).render(inner, buf);
        return;
    };
    let figures = if stale.is_some() { theme.stale() } else { theme.text() };
    let headline_height = if inner.width >= WIDE { 1 } else { 3 };
    let [gauge, headline, windows, rest] = Layout::vertical([
        Constraint::Length(3),
        Constraint::Length(headline_height),
        Constraint::Length(7),
        Constraint::Min(0),
    ])
    .areas(inner);
    budget_gauge(state, spend, gauge, buf);
    Paragraph::new(headline_line(state, spend, figures))
        .wrap(Wrap { trim: true })
        .render(headline, buf);
    windows_table(state, spend, figures, windows, buf);
    if inner.height < TALL {
        let [by_class, by_model] = Layout::horizontal([Constraint::Fill(1), Constraint::Fill(1)]).areas(rest);
        let summary = spend.of(state.spend_span);
        groups(state, "by class", &summary.by_class, LastColumn::Spend, by_class, buf);
        groups(state, "by model", &summary.by_model, LastColumn::Spend, by_model, buf);
        return;
    }
    let [trends, breakdown] = Layout::vertical([Constraint::Length(8), Constraint::Min(0)]).areas(rest);
    draw_trends(state, spend, trends, buf);
    let breakdown = if spend.limits.is_empty() {
        breakdown
    } else {
        let rows = u16::try_from(spend.limits.len()).unwrap_or(u16::MAX).saturating_add(3);
        let [rest, limits] = Layout::vertical([Constraint::Min(0), Constraint::Length(rows)]).areas(breakdown);
        agent_limits(state, &spend.limits, limits, buf);
        rest
    };
    breakdowns(state, spend.of(state.spend_span), breakdown, buf);
}

/// Today's frontier spend against the daily budget.
fn budget_gauge(state: &State, spend: &SpendWindows, area: Rect, buf: &mut Buffer) {
    let theme = &state.theme;
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
        .render(area, buf);
}

/// Today's burn rate and where it leads, the money saved today and the quality spend.
fn headline_line(state: &State, spend: &SpendWindows, figures: Style) -> Line<'static> {
    let theme = &state.theme;
    let burn = burn(state, spend);
    let runs_out = match burn.runs_out {
        RunsOut::NoBudget => "no budget set".to_string(),
        RunsOut::Spent => "budget spent".to_string(),
        RunsOut::At(at) => format!("budget runs out {} UTC", at.format("%H:%M")),
        RunsOut::NotToday => "budget lasts the day".to_string(),
    };
    let saved = spend
        .today
        .local_at_frontier_prices(|class| state.frontier_prices.get(class).copied());
    let warn = matches!(burn.runs_out, RunsOut::At(_) | RunsOut::Spent);
    Line::from(vec![
        Span::styled(format!(" burn {}/h", usd(burn.usd_per_hour)), figures),
        Span::styled(" · projected ", theme.dim()),
        Span::styled(format!("{} by midnight", usd(burn.projected_usd)), figures),
        Span::styled(" · ", theme.dim()),
        Span::styled(runs_out, if warn { theme.warning() } else { figures }),
        Span::styled(" · saved today ", theme.dim()),
        Span::styled(usd(saved), theme.endpoint(Endpoint::Local)),
        Span::styled(" · quality spend today ", theme.dim()),
        Span::styled(usd(spend.today.quality.cost_usd), figures),
    ])
}

/// The burn now, from the last 24 hours' hourly spend.
fn burn(state: &State, spend: &SpendWindows) -> Burn {
    let spent_today = spend.today.endpoint(Endpoint::Frontier).cost_usd;
    spend.day.burn(state.now, spent_today, state.budget_usd)
}

/// One row per window: requests by endpoint, frontier and quality spend, the local share and
/// the money saved.
fn windows_table(state: &State, spend: &SpendWindows, figures: Style, area: Rect, buf: &mut Buffer) {
    let theme = &state.theme;
    let prices = |class: &str| state.frontier_prices.get(class).copied();
    let window_row = |name: &'static str, s: &SpendSummary| {
        let frontier = s.endpoint(Endpoint::Frontier);
        Row::new([
            name.to_string(),
            s.total.requests.to_string(),
            s.endpoint(Endpoint::Local).requests.to_string(),
            frontier.requests.to_string(),
            s.endpoint(Endpoint::Rejected).requests.to_string(),
            usd(frontier.cost_usd),
            usd(s.quality.cost_usd),
            percent(s.local_token_share()),
            usd(s.local_at_frontier_prices(prices)),
        ])
    };
    Table::new(
        [
            window_row("today", &spend.today),
            window_row("24 h", &spend.day),
            window_row("7 d", &spend.week),
            window_row("30 d", &spend.month),
        ],
        [
            Constraint::Length(6),
            Constraint::Length(8),
            Constraint::Length(8),
            Constraint::Length(8),
            Constraint::Length(8),
            Constraint::Length(9),
            Constraint::Length(8),
            Constraint::Length(6),
            Constraint::Fill(1),
        ],
    )
    .header(
        Row::new([
            "WINDOW", "REQUESTS", "LOCAL", "FRONTIER", "REJECTED", "SPEND", "QUALITY", "LOCAL%", "SAVED",
        ])
        .style(theme.dim()),
    )
    .style(figures)
    .block(
        Block::bordered()
            .border_style(theme.border())
            .title(" spend · QUALITY: shadow twins · SAVED: the local volume at frontier prices "),
    )
    .render(area, buf);
}

/// The 24-hour and 30-day trends as sparklines, beside the last 7 days' frontier spend as bars.
fn draw_trends(state: &State, spend: &SpendWindows, area: Rect, buf: &mut Buffer) {
    let [lines, bars] = if area.width >= WIDE {
        Layout::horizontal([Constraint::Fill(1), Constraint::Length(52)]).areas(area)
    } else {
        Layout::horizontal([Constraint::Fill(1), Constraint::Length(0)]).areas(area)
    };
    let [hours, days] = Layout::vertical([Constraint::Length(4), Constraint::Length(4)]).areas(lines);
    let end = hour_floor(state.now);
    let hourly: Vec<Option<&PeriodSpend>> = (0..24)
        .rev()
        .map(|h| spend.day.hour(end - TimeDelta::hours(h)))
        .collect();
    trend(
        state,
        " last 24 h, per hour (oldest left) ",
        &hourly,
        "24 h",
        2,
        hours,
        buf,
    );
    let today = day_floor(state.now);
    let daily: Vec<Option<&PeriodSpend>> = (0..30)
        .rev()
        .map(|d| spend.month.day(today - TimeDelta::days(d)))
        .collect();
    trend(
        state,
        " last 30 days, per day (oldest left) ",
        &daily,
        "30 d",
        1,
        days,
        buf,
    );
    if bars.width > 0 {
        week_bars(state, &daily[daily.len() - 7..], today, bars, buf);
    }
}

/// Frontier dollars and local tokens per period, as two labelled sparklines with their totals.
fn trend(
    state: &State,
    title: &'static str,
    periods: &[Option<&PeriodSpend>],
    span: &str,
    cells: usize,
    area: Rect,
    buf: &mut Buffer,
) {
    let theme = &state.theme;
    let block = Block::bordered().border_style(theme.border()).title(title);
    let inner = block.inner(area);
    block.render(area, buf);
    let [frontier_row, local_row] = Layout::vertical([Constraint::Length(1), Constraint::Length(1)]).areas(inner);
    let cents: Vec<u64> = periods
        .iter()
        .map(|p| p.map_or(0, |p| (p.frontier.cost_usd * 100.0).round() as u64))
        .collect();
    let local: Vec<u64> = periods
        .iter()
        .map(|p| p.map_or(0, |p| u64::try_from(p.local.tokens()).unwrap_or(0)))
        .collect();
    let frontier_total: f64 = periods.iter().flatten().map(|p| p.frontier.cost_usd).sum();
    let local_total: i64 = periods.iter().flatten().map(|p| p.local.tokens()).sum();
    let width = u16::try_from(periods.len() * cells).unwrap_or(u16::MAX);
    for (row, label, series, total, style) in [
        (
            frontier_row,
            "frontier $ ",
            &cents,
            usd(frontier_total),
            theme.endpoint(Endpoint::Frontier),
        ),
        (
            local_row,
            "local tok  ",
            &local,
            tokens(local_total),
            theme.endpoint(Endpoint::Local),
        ),
    ] {
        let [name, chart, sum] =
            Layout::horizontal([Constraint::Length(11), Constraint::Length(width), Constraint::Fill(1)]).areas(row);
        Paragraph::new(Line::styled(label, theme.dim())).render(name, buf);
        Paragraph::new(Line::styled(sparkline(series, cells), style)).render(chart, buf);
        Paragraph::new(Line::styled(format!(" {total} in {span}"), theme.text())).render(sum, buf);
    }
}

/// The last 7 days' frontier spend, one labelled bar per day, today last.
fn week_bars(state: &State, week: &[Option<&PeriodSpend>], today: DateTime<Utc>, area: Rect, buf: &mut Buffer) {
    let theme = &state.theme;
    let bars: Vec<Bar> = week
        .iter()
        .enumerate()
        .map(|(i, day)| {
            let start = today - TimeDelta::days((week.len() - 1 - i) as i64);
            let cost = day.map_or(0.0, |d| d.frontier.cost_usd);
            Bar::default()
                .value((cost * 100.0).round() as u64)
                .text_value(bar_dollars(cost))
                .label(Line::from(format!("{} {}", start.weekday(), start.day())))
        })
        .collect();
    BarChart::default()
        .block(
            Block::bordered()
                .border_style(theme.border())
                .title(" last 7 days, frontier $ per day "),
        )
        .data(BarGroup::default().bars(&bars))
        .bar_width(6)
        .bar_gap(1)
        .bar_style(theme.endpoint(Endpoint::Frontier))
        .value_style(theme.selected())
        .label_style(theme.dim())
        .render(area, buf);
}

/// Dollars short enough for a bar: `0.15`, `42`, `1.2k`.
fn bar_dollars(cost: f64) -> String {
    match cost {
        c if c < 10.0 => format!("{c:.2}"),
        c if c < 1000.0 => format!("{c:.0}"),
        c => format!("{:.1}k", c / 1000.0),
    }
}

/// The selected window by class, agent, model and node.
fn breakdowns(state: &State, summary: &SpendSummary, area: Rect, buf: &mut Buffer) {
    let tables: [(&str, &[SpendGroup], LastColumn); 4] = [
        ("by class", &summary.by_class, LastColumn::Spend),
        ("by agent", &summary.by_agent, LastColumn::Spend),
        ("by model", &summary.by_model, LastColumn::Spend),
        ("by node (farm volume)", &summary.by_node, LastColumn::Share),
    ];
    if area.width >= WIDE {
        let columns: [Rect; 4] = Layout::horizontal([Constraint::Fill(1); 4]).areas(area);
        for ((title, rows, last), column) in tables.into_iter().zip(columns) {
            groups(state, title, rows, last, column, buf);
        }
    } else {
        let [top, bottom] = Layout::vertical([Constraint::Fill(1); 2]).areas(area);
        let [a, b] = Layout::horizontal([Constraint::Fill(1); 2]).areas(top);
        let [c, d] = Layout::horizontal([Constraint::Fill(1); 2]).areas(bottom);
        for ((title, rows, last), cell) in tables.into_iter().zip([a, b, c, d]) {
            groups(state, title, rows, last, cell, buf);
        }
    }
}

/// The last column of a breakdown.
#[derive(Clone, Copy, PartialEq, Eq)]
enum LastColumn {
    /// Frontier spend.
    Spend,
    /// Share of the breakdown's tokens (nodes, which cost nothing).
    Share,
}

/// One breakdown: requests, tokens and spend (or share) per value.
fn groups(state: &State, title: &str, groups: &[SpendGroup], last: LastColumn, area: Rect, buf: &mut Buffer) {
    let theme = &state.theme;
    let nodes = last == LastColumn::Share;
    let farm_tokens: i64 = groups.iter().map(|g| g.line.tokens()).sum();
    let rows = groups.iter().map(|g| {
        Row::new([
            if g.name.is_empty() {
                "–".to_string()
            } else {
                g.name.clone()
            },
            g.line.requests.to_string(),
            tokens(g.line.tokens()),
            if nodes {
                percent((farm_tokens > 0).then(|| g.line.tokens() as f64 / farm_tokens as f64))
            } else {
                usd(g.line.cost_usd)
            },
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
    .header(Row::new(["NAME", "REQ", "TOKENS", if nodes { "SHARE" } else { "SPEND" }]).style(theme.dim()))
    .style(theme.text())
    .block(
        Block::bordered()
            .border_style(theme.border())
            .title(format!(" {} {title} ", state.spend_span.label())),
    )
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
            l.rpm.used_of(count),
            l.tpm.used_of(count),
            l.max_in_flight.used_of(count),
            l.daily_usd.used_of(usd),
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

/// Whether any of the agent's limits is reached.
fn over(line: &AgentLimitLine) -> bool {
    [line.rpm, line.tpm, line.max_in_flight, line.daily_usd]
        .iter()
        .any(|l| l.limit.is_some_and(|max| l.used >= max))
}
