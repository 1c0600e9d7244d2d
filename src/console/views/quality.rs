//! The Quality view: per task class and route, over the chosen window (`w`: 1 h, 24 h, 7 d),
//! requests, error, truncation and JSON-valid shares, time to first token, shadow agreement,
//! generation speed, feedback means, and the class's objectives.

use ratatui::buffer::Buffer;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::Style;
use ratatui::text::Line;
use ratatui::widgets::{Block, Cell, Paragraph, Row, Table, Widget};

use super::view_block;
use crate::console::state::{QualityFigures, State};
use crate::domain::TaskClass;
use crate::quality::SloCheck;
use crate::store::{FeedbackRow, QualityRow};

/// Widths from which the view shows its wider columns.
const WIDE: u16 = 110;

/// Draws the class × route table of the chosen window.
pub fn render(state: &State, area: Rect, buf: &mut Buffer) {
    let theme = &state.theme;
    let stale = state
        .store_lost_at()
        .map(|lost| crate::console::format::elapsed(state.now, lost));
    let figures_style = if stale.is_some() { theme.stale() } else { theme.text() };
    let title = match &stale {
        Some(age) => format!(
            " window {} (w) · stale {age}: the store is unreachable ",
            state.quality_span.label()
        ),
        None => format!(" window {} (w) ", state.quality_span.label()),
    };
    let block = view_block(state, area.width, Line::styled(title, theme.dim()).right_aligned());
    let inner = block.inner(area);
    block.render(area, buf);
    let panel_rows = u16::try_from(state.recommendations.len().clamp(1, 6)).unwrap_or(6) + 2;
    let [inner, panel] = Layout::vertical([Constraint::Min(3), Constraint::Length(panel_rows)]).areas(inner);
    render_suggestions(state, panel, buf);
    let Some(spend) = &state.spend else {
        Paragraph::new(Line::styled("waiting for the first quality figures…", theme.dim())).render(inner, buf);
        return;
    };
    let figures = spend.quality.of(state.quality_span);
    if figures.rows.is_empty() {
        Paragraph::new(Line::styled(
            format!("no answers in the last {}", state.quality_span.label()),
            theme.dim(),
        ))
        .render(inner, buf);
        return;
    }
    let wide = area.width >= WIDE;
    let checks = figures.slo_checks(&state.quality);
    let rows = figures.rows.iter().map(|row| {
        let line = &row.line;
        let share = |part: i64, whole: i64| rate((whole > 0).then(|| part as f64 / whole as f64));
        let ttft = |q: f64| {
            line.ttft_quantile_ms(q)
                .map_or_else(|| "–".to_string(), |ms| format!("{ms:.0}"))
        };
        let (slo, slo_style) = slo_cell(row.class, &checks, theme.warning(), theme.dim(), figures_style);
        let mut cells = vec![
            Cell::from(row.class.as_str()),
            Cell::from(row.route.clone()),
            Cell::from(line.requests.to_string()),
            Cell::from(share(line.errors, line.requests)),
            Cell::from(share(line.truncated, line.requests)),
            Cell::from(share(line.json_valid, line.json_checked)),
        ];
        if wide {
            cells.push(Cell::from(ttft(0.5)));
        }
        cells.push(Cell::from(ttft(0.95)));
        cells.push(Cell::from(agreement_text(figures, row, wide)));
        if wide {
            let tps = (line.tps_count > 0).then(|| line.tps_sum / line.tps_count as f64);
            cells.push(Cell::from(tps.map_or_else(|| "–".to_string(), |t| format!("{t:.0}"))));
            cells.push(Cell::from(feedback_text(figures, row)));
        }
        cells.push(Cell::from(slo).style(slo_style));
        Row::new(cells)
    });
    let (header, widths): (Vec<&str>, Vec<Constraint>) = if wide {
        [
            ("CLASS", Constraint::Length(13)),
            ("ROUTE", Constraint::Fill(2)),
            ("REQ", Constraint::Length(7)),
            ("ERR", Constraint::Length(6)),
            ("TRUNC", Constraint::Length(6)),
            ("JSON", Constraint::Length(6)),
            ("TTFT50", Constraint::Length(7)),
            ("TTFT95", Constraint::Length(7)),
            ("AGREE (95% CI) N", Constraint::Length(21)),
            ("TOK/S", Constraint::Length(6)),
            ("FEEDBACK", Constraint::Fill(2)),
            ("SLO", Constraint::Fill(1)),
        ]
        .into_iter()
        .unzip()
    } else {
        [
            ("CLASS", Constraint::Length(9)),
            ("ROUTE", Constraint::Fill(2)),
            ("REQ", Constraint::Length(5)),
            ("ERR", Constraint::Length(5)),
            ("TRUNC", Constraint::Length(5)),
            ("JSON", Constraint::Length(5)),
            ("TTFT95", Constraint::Length(6)),
            ("AGREE", Constraint::Length(5)),
            ("SLO", Constraint::Fill(1)),
        ]
        .into_iter()
        .unzip()
    };
    Table::new(rows, widths)
        .header(Row::new(header).style(theme.dim()))
        .style(figures_style)
        .render(inner, buf);
}

/// A share with one decimal (`0.4%`), whole at the ends (`0%`, `100%`), `–` when unknown.
fn rate(share: Option<f64>) -> String {
    match share {
        None => "–".into(),
        Some(s) if s <= 0.0 => "0%".into(),
        Some(s) if s >= 0.9995 => "100%".into(),
        Some(s) => format!("{:.1}%", s * 100.0),
    }
}

/// The panel of policy suggestions from the last week: the selected one is applied with Enter,
/// after a confirmation.
fn render_suggestions(state: &State, area: Rect, buf: &mut Buffer) {
    let theme = &state.theme;
    let title = if state.read_only {
        " suggestions · last 7 d "
    } else {
        " suggestions · last 7 d · ↑↓ select · Enter apply (confirmed, audited) "
    };
    let block = Block::bordered().border_style(theme.border()).title(title);
    let inner = block.inner(area);
    block.render(area, buf);
    if state.recommendations.is_empty() {
        Paragraph::new(Line::styled(
            "none: a move needs 30 shadow samples agreeing at 0.85 or more (95 % CI), no SLO breach, $0.50/day saved",
            theme.dim(),
        ))
        .render(inner, buf);
        return;
    }
    let lines: Vec<Line> = state
        .recommendations
        .iter()
        .enumerate()
        .map(|(i, r)| {
            let style = if i == state.recommendation_row {
                theme.selected()
            } else {
                theme.text()
            };
            Line::styled(format!("{} → {} = {}", r.summary, r.key, r.value), style)
        })
        .collect();
    Paragraph::new(lines).render(inner, buf);
}

/// The class's objectives: `ok`, the breached ones, or `–` with none set (or none measurable).
fn slo_cell(class: TaskClass, checks: &[SloCheck], breach: Style, none: Style, ok: Style) -> (String, Style) {
    let mine: Vec<&SloCheck> = checks.iter().filter(|c| c.class == class).collect();
    let breached: Vec<&str> = mine.iter().filter(|c| c.breached).map(|c| c.kind.as_str()).collect();
    if !breached.is_empty() {
        (format!("breach {}", breached.join(",")), breach)
    } else if mine.iter().any(|c| c.observed.is_some()) {
        ("ok".into(), ok)
    } else {
        ("–".into(), none)
    }
}

/// Shadow agreement of the row's route: `0.93 0.90–0.95 412` (narrow: the mean), `–` without samples.
fn agreement_text(figures: &QualityFigures, row: &QualityRow, wide: bool) -> String {
    let Some(a) = figures
        .agreement
        .iter()
        .find(|a| a.class == row.class && a.route == row.route)
    else {
        return "–".into();
    };
    if !wide {
        return format!("{:.2}", a.mean);
    }
    let (low, high) = a.interval();
    format!("{:.2} {low:.2}–{high:.2} {}", a.mean, a.n)
}

/// `task_done 0.83 (41) · score 0.71 (12)`: each metric's mean and count for the row's route.
fn feedback_text(figures: &QualityFigures, row: &QualityRow) -> String {
    let parts: Vec<String> = figures
        .feedback
        .iter()
        .filter(|f: &&FeedbackRow| f.class == row.class && f.route == row.route)
        .map(|f| format!("{} {:.2} ({})", f.metric, f.mean, f.count))
        .collect();
    if parts.is_empty() {
        "–".into()
    } else {
        parts.join(" · ")
    }
}
