//! The Jobs view: batches with their progress, throughput, ETA and window left; the selected
//! batch's details and keys; queue depth per class, running attempts per node or provider, and
//! the newest failures by error code.

use ratatui::buffer::Buffer;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::Style;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Cell, Paragraph, Row, Table, Widget, Wrap};

use super::view_block;
use crate::actions::status_word;
use crate::console::format::{bar, duration, elapsed, until};
use crate::console::jobs::{ended, eta, remaining};
use crate::console::keys::Action;
use crate::console::state::{Mode, State, View};
use crate::fleet::Health;
use crate::store::{BatchRow, BatchStatus};

/// Width from which the batch table shows whole ids, agents and throughput too.
const WIDE: u16 = 128;
/// Width from which the batch table shows the ETA and the window left.
const NORMAL: u16 = 76;
/// Height of the selected batch's pane, borders included.
const DETAIL_HEIGHT: u16 = 4;
/// Rows of the lower tables at most.
const LOWER_ROWS: usize = 6;

/// Draws the batch table, the selected batch's details and the three lower tables.
pub fn render(state: &State, area: Rect, buf: &mut Buffer) {
    let lower_rows = state.jobs.as_ref().map_or(1, |board| {
        board
            .depth
            .len()
            .max(board.running.len())
            .max(board.failures.len())
            .clamp(1, LOWER_ROWS)
    });
    let [table, detail, lower] = Layout::vertical([
        Constraint::Min(0),
        Constraint::Length(DETAIL_HEIGHT),
        Constraint::Length(lower_rows as u16 + 3),
    ])
    .areas(area);
    batch_table(state, table, buf);
    batch_detail(state, detail, buf);
    let [depth, running, failures] =
        Layout::horizontal([Constraint::Fill(3), Constraint::Fill(3), Constraint::Fill(4)]).areas(lower);
    depth_table(state, depth, buf);
    running_table(state, running, buf);
    failure_table(state, failures, buf);
}

/// The style of figures read from the store: stale while it is away.
fn figures(state: &State) -> Style {
    if state.store.outage().is_some() {
        state.theme.stale()
    } else {
        state.theme.text()
    }
}

/// A batch's status, coloured by what it means for its owner.
fn status_style(state: &State, batch: &BatchRow) -> Style {
    let theme = &state.theme;
    match batch.status {
        _ if state.store.outage().is_some() => theme.stale(),
        BatchStatus::Completed => theme.health(Health::Up),
        BatchStatus::Failed => theme.health(Health::Down),
        BatchStatus::Expired | BatchStatus::Cancelling => theme.warning(),
        BatchStatus::Cancelled => theme.dim(),
        _ if status_word(batch) == "paused" => theme.warning(),
        _ => theme.text(),
    }
}

/// Throughput as `42/min`, `–` before two reads or for an ended batch.
fn rate_text(state: &State, batch: &BatchRow) -> String {
    match state.batch_rates.per_minute(&batch.id) {
        Some(rate) if !batch.status.is_terminal() => format!("{rate:.0}/min"),
        _ => "–".into(),
    }
}

/// The ETA as `25m40s`, `paused`, or `–`; and whether it falls after the window's end.
fn eta_text(state: &State, batch: &BatchRow) -> (String, bool) {
    if batch.status.is_terminal() {
        return ("–".into(), false);
    }
    if status_word(batch) == "paused" {
        return ("paused".into(), false);
    }
    match eta(remaining(batch), state.batch_rates.per_minute(&batch.id)) {
        Some(left) => (duration(left.num_seconds()), state.now + left > batch.expires_at),
        None => ("–".into(), false),
    }
}

/// Time left in the completion window, `–` once the batch ended.
fn window_text(state: &State, batch: &BatchRow) -> String {
    if batch.status.is_terminal() {
        "–".into()
    } else {
        until(state.now, batch.expires_at)
    }
}

/// `done/failed/total`, the failures in the warning role when there are any.
fn counts_cell(state: &State, batch: &BatchRow, style: Style) -> Cell<'static> {
    let c = &batch.counts;
    let failed = if c.failed > 0 && state.store.outage().is_none() {
        state.theme.warning()
    } else {
        style
    };
    Cell::from(Line::from(vec![
        Span::styled(format!("{}/", c.completed), style),
        Span::styled(c.failed.to_string(), failed),
        Span::styled(format!("/{}", c.total), style),
    ]))
}

/// How much of a batch the table has room for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Columns {
    /// Id, status, progress and counts; ETA and window in the detail pane.
    Narrow,
    /// Also the ETA and the window left.
    Normal,
    /// Also the whole id, the agent and the throughput.
    Wide,
}

impl Columns {
    fn for_width(width: u16) -> Columns {
        match width {
            w if w >= WIDE => Columns::Wide,
            w if w >= NORMAL => Columns::Normal,
            _ => Columns::Narrow,
        }
    }
}

fn batch_table(state: &State, area: Rect, buf: &mut Buffer) {
    let theme = &state.theme;
    let columns = Columns::for_width(area.width);
    let wide = columns == Columns::Wide;
    let fit = usize::from(area.height.saturating_sub(3)).max(1);
    let offset = state.batch_row.saturating_sub(fit - 1);
    let text = figures(state);
    let rows: Vec<Row> = state
        .visible_batches()
        .skip(offset)
        .take(fit)
        .enumerate()
        .map(|(i, batch)| {
            let progress = format!(
                "{} {:>3.0}%",
                bar(
                    ended(batch).max(0) as u64,
                    batch.counts.total.max(0) as u64,
                    if wide { 12 } else { 8 }
                ),
                percent(batch)
            );
            let mut cells = vec![Cell::from(batch.id.clone())];
            if wide {
                cells.push(Cell::from(batch.agent.clone()));
            }
            cells.push(Cell::from(status_word(batch)).style(status_style(state, batch)));
            cells.push(Cell::from(progress).style(if state.store.outage().is_some() {
                theme.stale()
            } else {
                theme.gauge()
            }));
            cells.push(counts_cell(state, batch, text));
            if wide {
                cells.push(Cell::from(rate_text(state, batch)));
            }
            if columns >= Columns::Normal {
                let (eta, late) = eta_text(state, batch);
                cells.push(Cell::from(eta).style(if late { theme.warning() } else { text }));
                cells.push(Cell::from(window_text(state, batch)));
            }
            let row = Row::new(cells).style(text);
            if offset + i == state.batch_row {
                row.style(theme.selected().patch(text))
            } else {
                row
            }
        })
        .collect();
    let mut header = vec!["BATCH"];
    let mut widths = vec![Constraint::Length(if wide { 30 } else { 16 })];
    if wide {
        header.push("AGENT");
        widths.push(Constraint::Length(20));
    }
    header.extend(["STATUS", "PROGRESS", "DONE/FAILED/TOTAL"]);
    widths.extend([
        Constraint::Length(11),
        Constraint::Length(if wide { 17 } else { 13 }),
        if columns == Columns::Narrow {
            Constraint::Fill(1)
        } else {
            Constraint::Length(17)
        },
    ]);
    if wide {
        header.push("RATE");
        widths.push(Constraint::Length(9));
    }
    if columns >= Columns::Normal {
        header.extend(["ETA", "LEFT"]);
        widths.extend([Constraint::Length(7), Constraint::Length(7)]);
    }
    let room = area.width.saturating_sub(super::tabs_width(state, area.width) + 2);
    let table = Table::new(rows, widths)
        .header(Row::new(header).style(theme.dim()))
        .block(view_block(state, area.width, title(state, room).right_aligned()));
    table.render(area, buf);
    let inner = Rect {
        y: area.y.saturating_add(2),
        height: area.height.saturating_sub(3),
        ..area.inner(ratatui::layout::Margin::new(1, 0))
    };
    if let Some(why) = empty_text(state)
        && inner.height > 0
    {
        Paragraph::new(Line::styled(why, theme.dim()))
            .wrap(Wrap { trim: true })
            .render(inner, buf);
    }
}

/// Done and failed over total, as a percentage.
fn percent(batch: &BatchRow) -> f64 {
    if batch.counts.total <= 0 {
        0.0
    } else {
        ended(batch) as f64 * 100.0 / batch.counts.total as f64
    }
}

/// What the table says when it lists nothing.
fn empty_text(state: &State) -> Option<String> {
    let board = match &state.jobs {
        None => {
            return Some(match &state.jobs_error {
                Some(why) => format!("cannot read batch jobs: {why}"),
                None => "waiting for the first read of batch jobs…".into(),
            });
        }
        Some(board) => board,
    };
    if board.batches.is_empty() {
        Some("no batches yet (agents create them with POST /v1/batches)".into())
    } else if state.visible_batches().next().is_none() {
        Some(format!("no batch matches /{}", state.batch_filter))
    } else {
        None
    }
}

/// The table's title, the longest of four that fits in `room` beside the view tabs: how many
/// batches, queued and running jobs, the filter, and whether the figures are stale or unreadable.
fn title(state: &State, room: u16) -> Line<'static> {
    let theme = &state.theme;
    let filtering = !state.batch_filter.is_empty() || (state.mode == Mode::Filter && state.view == View::Jobs);
    let filter = if filtering {
        format!(" · /{}", state.batch_filter)
    } else {
        String::new()
    };
    let (queued, running, batches) = state
        .jobs
        .as_ref()
        .map_or((0, 0, 0), |b| (b.queued(), b.running_total(), b.batches.len()));
    let lost = state.store_lost_at().map(|lost| elapsed(state.now, lost));
    let unreadable = state.jobs_error.as_deref().filter(|_| lost.is_none());
    // 0: everything, long notes; 1: queued and running, short notes; 2: queued, short notes.
    let full = |brevity: u8| {
        let compact = brevity > 0;
        let mut spans = Vec::new();
        let counts = match (&state.jobs, brevity) {
            (None, _) => String::new(),
            (Some(_), 0) => format!(
                " {batches} {} · {queued} queued · {running} running",
                if batches == 1 { "batch" } else { "batches" }
            ),
            (Some(_), 1) => format!(" {queued} queued · {running} running"),
            (Some(_), _) => format!(" {queued} queued"),
        };
        spans.push(Span::styled(format!("{counts}{filter} "), theme.dim()));
        match (&lost, unreadable, compact) {
            (Some(age), _, false) => spans.push(Span::styled(
                format!("· stale {age}: the store is unreachable "),
                theme.stale(),
            )),
            (Some(age), _, true) => spans.push(Span::styled(format!("· stale {age} "), theme.stale())),
            (None, Some(why), false) => spans.push(Span::styled(
                format!(
                    "· cannot read batch jobs: {} ",
                    why.chars().take(80).collect::<String>()
                ),
                theme.warning(),
            )),
            (None, Some(_), true) => spans.push(Span::styled("· unreadable ", theme.warning())),
            (None, None, _) => {}
        }
        Line::from(spans)
    };
    [full(0), full(1), full(2)]
        .into_iter()
        .find(|line| line.width() <= usize::from(room))
        .unwrap_or_default()
}

fn batch_detail(state: &State, area: Rect, buf: &mut Buffer) {
    let theme = &state.theme;
    let block = Block::bordered().border_style(theme.border());
    let Some(batch) = state.selected_batch() else {
        Paragraph::new(Line::styled("no batch selected", theme.dim()))
            .block(block)
            .render(area, buf);
        return;
    };
    let dot = || Span::styled(" · ", theme.dim());
    let text = figures(state);
    let c = &batch.counts;
    let (eta, late) = eta_text(state, batch);
    let window = if batch.status.is_terminal() {
        format!("{} window", batch.completion_window)
    } else {
        format!(
            "{} window, {} left",
            batch.completion_window,
            until(state.now, batch.expires_at)
        )
    };
    let figure =
        |value: i64, what: &'static str| [Span::styled(value.to_string(), text), Span::styled(what, theme.dim())];
    let mut second: Vec<Span> = Vec::new();
    for (index, (value, what)) in [
        (c.completed, " done"),
        (c.failed, " failed"),
        (c.queued, " queued"),
        (c.running, " running"),
    ]
    .into_iter()
    .enumerate()
    {
        if index > 0 {
            second.push(dot());
        }
        second.extend(figure(value, what));
    }
    second.extend([
        dot(),
        Span::styled("rate ", theme.dim()),
        Span::styled(rate_text(state, batch), text),
        dot(),
        Span::styled("ETA ", theme.dim()),
        Span::styled(
            if late { format!("{eta}, past the window") } else { eta },
            if late { theme.warning() } else { text },
        ),
    ]);
    let lines = vec![
        Line::from(vec![
            Span::styled(batch.agent.clone(), text),
            dot(),
            Span::styled("created ", theme.dim()),
            Span::styled(batch.created_at.format("%m-%d %H:%M").to_string(), text),
            dot(),
            Span::styled(window, text),
        ]),
        Line::from(second),
    ];
    Paragraph::new(lines)
        .wrap(Wrap { trim: false })
        .block(
            block
                .title(Line::styled(format!(" {} ", batch.id), theme.accent()))
                .title(keys_hint(state, batch)),
        )
        .render(area, buf);
}

/// The batch keys (as mapped), in the detail pane's title, or why there are none.
fn keys_hint(state: &State, batch: &BatchRow) -> Line<'static> {
    let theme = &state.theme;
    if state.read_only {
        return Line::styled(" read-only: no actions ", theme.dim()).right_aligned();
    }
    if state.store.outage().is_some() {
        return Line::styled(" store unreachable: no actions ", theme.dim()).right_aligned();
    }
    let pause = if batch.paused { "resume" } else { "pause" };
    let mut spans = Vec::new();
    for (action, word) in [
        (Action::PauseBatch, pause),
        (Action::CancelBatch, "cancel"),
        (Action::RetryBatch, "retry failed"),
    ] {
        spans.push(Span::styled(format!(" {}", state.keymap.label(action)), theme.accent()));
        spans.push(Span::styled(format!(" {word}"), theme.dim()));
    }
    spans.push(Span::raw(" "));
    Line::from(spans).right_aligned()
}

/// One bordered table of the lower row.
struct Lower<'a> {
    title: String,
    header: Row<'a>,
    rows: Vec<Row<'a>>,
    widths: &'a [Constraint],
    /// What it says when it has no rows.
    empty: &'static str,
}

impl Lower<'_> {
    /// Draws the table, or a dim line saying it is empty (a dash before the first read).
    fn render(self, state: &State, area: Rect, buf: &mut Buffer) {
        let theme = &state.theme;
        let block = Block::bordered().border_style(theme.border()).title(self.title);
        if self.rows.is_empty() {
            let text = if state.jobs.is_some() { self.empty } else { "–" };
            Paragraph::new(Line::styled(text, theme.dim()))
                .block(block)
                .render(area, buf);
            return;
        }
        Table::new(self.rows, self.widths.iter().copied())
            .header(self.header.style(theme.dim()))
            .style(figures(state))
            .block(block)
            .render(area, buf);
    }
}

fn depth_table(state: &State, area: Rect, buf: &mut Buffer) {
    let rows = state
        .jobs
        .iter()
        .flat_map(|b| b.depth.iter())
        .filter(|d| d.queued > 0 || d.running > 0)
        .take(LOWER_ROWS)
        .map(|d| Row::new([d.class.clone(), d.queued.to_string(), d.running.to_string()]))
        .collect();
    Lower {
        title: " queue by class ".into(),
        header: Row::new(["CLASS", "QUEUED", "RUN"]),
        rows,
        widths: &[Constraint::Fill(1), Constraint::Length(7), Constraint::Length(4)],
        empty: "nothing queued",
    }
    .render(state, area, buf);
}

fn running_table(state: &State, area: Rect, buf: &mut Buffer) {
    let rows = state
        .jobs
        .iter()
        .flat_map(|b| b.running.iter())
        .filter(|(_, n)| *n > 0)
        .take(LOWER_ROWS)
        .map(|(target, n)| Row::new([target.clone(), n.to_string()]))
        .collect();
    Lower {
        title: " running per node ".into(),
        header: Row::new(["NODE/PROVIDER", "RUN"]),
        rows,
        widths: &[Constraint::Fill(1), Constraint::Length(4)],
        empty: "nothing running",
    }
    .render(state, area, buf);
}

fn failure_table(state: &State, area: Rect, buf: &mut Buffer) {
    let read = state.jobs.as_ref().map_or(0, |b| b.failures_read);
    let rows = state
        .jobs
        .iter()
        .flat_map(|b| b.failures.iter())
        .take(LOWER_ROWS)
        .map(|g| {
            Row::new([
                g.code.clone(),
                g.count.to_string(),
                g.newest.format("%H:%M:%S").to_string(),
            ])
        })
        .collect();
    Lower {
        title: format!(" failures by code (last {read}) "),
        header: Row::new(["CODE", "N", "NEWEST"]),
        rows,
        widths: &[Constraint::Fill(1), Constraint::Length(4), Constraint::Length(8)],
        empty: "no failed attempts",
    }
    .render(state, area, buf);
}
