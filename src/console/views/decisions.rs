//! The Decisions view: the live stream coloured by endpoint, a filter, and one decision's details.

use ratatui::buffer::Buffer;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Paragraph, Row, Table, Widget, Wrap};

use super::trace::attempt_trace;
use super::view_block;
use crate::console::format::{elapsed, usd};
use crate::console::ring::HeldDecision;
use crate::console::state::{Mode, State};

/// Height of the detail pane, borders included.
const DETAIL_HEIGHT: u16 = 8;
/// Widths from which the table shows cost, tokens and status too.
const WIDE: u16 = 110;

/// Draws the decision table and the selected decision's details, under a word on what the
/// routers hold while the store is away or while they write it back.
pub fn render(state: &State, area: Rect, buf: &mut Buffer) {
    let holding = holding_line(state);
    // One line on wide screens; narrow ones wrap it onto two.
    let banner_height = match &holding {
        Some(_) if area.width < WIDE => 2,
        Some(_) => 1,
        None => 0,
    };
    let [banner, table, detail] = Layout::vertical([
        Constraint::Length(banner_height),
        Constraint::Min(0),
        Constraint::Length(DETAIL_HEIGHT),
    ])
    .areas(area);
    if let Some(line) = holding {
        Paragraph::new(line).wrap(Wrap { trim: true }).render(banner, buf);
    }
    decision_table(state, table, buf);
    decision_detail(state, detail, buf);
}

/// "store unreachable for 41s: routing continues; the routers hold 1234 decisions to write when it
/// returns (…)", or, once it is back, how many they still have to write; nothing otherwise.
fn holding_line(state: &State) -> Option<Line<'static>> {
    let theme = &state.theme;
    let (buffered, journaled, answered, known) = state.held_by_routers();
    let held = buffered + journaled;
    let routers = match (answered, known) {
        (_, 0) => "no router known yet".to_string(),
        (a, k) if a == k => format!("{k} router(s)"),
        (a, k) => format!("{a} of {k} routers answered"),
    };
    match state.store.outage() {
        Some(outage) => Some(Line::from(vec![
            Span::styled(
                format!(
                    " store unreachable for {}: routing continues; ",
                    elapsed(state.now, outage.since)
                ),
                theme.warning(),
            ),
            Span::styled(
                format!(
                    "the routers hold {held} decisions to write when it returns ({buffered} in memory, {journaled} journaled; {routers})"
                ),
                theme.stale(),
            ),
        ])),
        // Routers always hold a batch in memory for a moment; a journal is written only in an
        // outage, so one being replayed means the store has just come back.
        None if journaled > 0 => Some(Line::styled(
            format!(" the store is back: the routers are writing {held} held decisions ({routers})"),
            theme.stale(),
        )),
        None => None,
    }
}

fn route(r: &HeldDecision) -> String {
    match (&r.node, &r.provider, &r.model) {
        (Some(node), _, Some(model)) => format!("{node}/{model}"),
        (None, Some(provider), Some(model)) => format!("{provider}/{model}"),
        _ => r.error.as_deref().unwrap_or("–").to_string(),
    }
}

fn decision_table(state: &State, area: Rect, buf: &mut Buffer) {
    let theme = &state.theme;
    let wide = area.width >= WIDE;
    // Rows that fit: the area minus borders and the header row.
    let fit = usize::from(area.height.saturating_sub(3)).max(1);
    let offset = state.decision_row.saturating_sub(fit - 1);
    let rows = state
        .visible_decisions()
        .skip(offset)
        .take(fit)
        .enumerate()
        .map(|(i, r)| {
            let mut cells = vec![
                r.ts.format("%H:%M:%S").to_string(),
                r.agent.to_string(),
                r.effective_class.as_str().to_string(),
                r.endpoint.as_str().to_string(),
                route(r),
                format!("{}", r.latency_ms),
            ];
            if wide {
                cells.push(r.total_tokens().to_string());
                cells.push(usd(r.cost_usd));
                cells.push(r.status.to_string());
            }
            let style = theme.endpoint(r.endpoint);
            let row = Row::new(cells);
            if offset + i == state.decision_row {
                row.style(theme.selected().patch(style))
            } else {
                row.style(style)
            }
        });
    let mut header = vec!["TIME", "AGENT", "CLASS", "ENDPOINT", "ROUTE", "MS"];
    let mut widths = vec![
        Constraint::Length(8),
        Constraint::Length(if wide { 18 } else { 14 }),
        Constraint::Length(13),
        Constraint::Length(8),
        Constraint::Fill(1),
        Constraint::Length(6),
    ];
    if wide {
        header.extend(["TOKENS", "COST", "HTTP"]);
        widths.extend([Constraint::Length(7), Constraint::Length(9), Constraint::Length(4)]);
    }
    let shown = state.visible_decisions().count();
    let mut status = format!(" {shown} shown · {} held", state.decisions.len());
    if state.decisions.dropped() > 0 {
        status.push_str(&format!(" · {} dropped", state.decisions.dropped()));
    }
    if !state.filter.is_empty() || state.mode == Mode::Filter {
        status.push_str(&format!(" · /{}", state.filter));
    }
    if state.paused_at.is_some() {
        status.push_str(" · paused");
    }
    status.push(' ');
    let mut title = vec![Span::styled(status, theme.dim())];
    if let Some(lost) = state.store_lost_at() {
        title.push(Span::styled(
            format!("· stale {} ", elapsed(state.now, lost)),
            theme.stale(),
        ));
    }
    Table::new(rows, widths)
        .header(Row::new(header).style(theme.dim()))
        .block(view_block(state, area.width, Line::from(title).right_aligned()))
        .render(area, buf);
}

fn decision_detail(state: &State, area: Rect, buf: &mut Buffer) {
    let theme = &state.theme;
    let block = Block::bordered().border_style(theme.border());
    let Some(r) = state.selected_decision() else {
        let text = if state.decisions.is_empty() {
            "no decisions yet"
        } else {
            "no decision matches the filter"
        };
        Paragraph::new(Line::styled(text, theme.dim()))
            .block(block)
            .render(area, buf);
        return;
    };
    let label = |text: &'static str| Span::styled(text, theme.dim());
    let sensitivity = match (&r.sensitive, &r.sensitivity_reason) {
        (true, Some(reason)) => format!("sensitive ({reason})"),
        (true, None) => "sensitive".into(),
        (false, _) => "not sensitive".into(),
    };
    let lines = vec![
        Line::from(vec![
            label("agent "),
            Span::raw(&*r.agent),
            label("  declared "),
            Span::raw(r.declared_class.as_str()),
            label(" → "),
            Span::raw(r.effective_class.as_str()),
            label("  "),
            Span::raw(sensitivity),
        ]),
        Line::from(vec![
            label("endpoint "),
            Span::styled(r.endpoint.as_str(), theme.endpoint(r.endpoint)),
            label("  route "),
            Span::raw(route(r)),
            label("  fallback "),
            Span::raw(r.fallback.as_str()),
            label("  policy "),
            Span::raw(format!("v{}", r.policy_version)),
        ]),
        Line::from(vec![label("attempts "), Span::raw(attempt_trace(&r.attempts))]),
        Line::from(vec![
            label("ttfb "),
            Span::raw(r.ttfb_ms.map(|t| format!("{t} ms")).unwrap_or_else(|| "–".into())),
            label("  total "),
            Span::raw(format!("{} ms", r.latency_ms)),
            label("  tokens "),
            Span::raw(format!(
                "{} in + {} out (est {})",
                r.prompt_tokens, r.completion_tokens, r.est_tokens
            )),
            label("  cost "),
            Span::raw(usd(r.cost_usd)),
        ]),
        Line::from(vec![
            label("status "),
            Span::raw(r.status.to_string()),
            label("  error "),
            Span::raw(r.error.as_deref().unwrap_or("–")),
            label("  request "),
            Span::raw(&*r.request_id),
        ]),
        Line::from(vec![
            label("at "),
            Span::raw(r.ts.format("%Y-%m-%d %H:%M:%S%.3f UTC").to_string()),
        ]),
    ];
    Paragraph::new(lines)
        .wrap(Wrap { trim: false })
        .block(block.title(Line::styled(format!(" decision #{} ", r.id), theme.accent())))
        .render(area, buf);
}
