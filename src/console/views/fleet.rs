//! The Fleet view: one row per node, and a detail pane for the selected node.

use ratatui::buffer::Buffer;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Cell, Paragraph, Row, StatefulWidget, Table, TableState, Widget, Wrap};

use super::view_block;
use crate::console::fleet_order::{NodeFacts, NodeGroup};
use crate::console::format::{ago, bar, bytes, elapsed, sparkline, until};
use crate::console::state::State;
use crate::domain::{DrainState, MemoryPressure};
use crate::fleet::NodeSnapshot;

/// Width from which the node table shows rate sparklines.
const WIDE: u16 = 120;
/// Width from which it also shows each node's watts and tokens per joule.
const WIDER: u16 = 150;

/// Draws the farm board, the node table and the selected node's details.
pub fn render(state: &State, area: Rect, buf: &mut Buffer) {
    let facts = state.node_facts();
    let listed = state.fleet_order.arrange(&facts);
    let entries = entries(state, &facts, &listed);
    let operations = if super::operations::any(state) {
        super::operations::height(state)
    } else {
        0
    };
    // Borders, the board and the header around the rows; the detail pane keeps its minimum and
    // the table scrolls when the rows do not fit.
    let wanted = u16::try_from(entries.len())
        .unwrap_or(u16::MAX)
        .saturating_add(3 + board_height(area.width));
    let room = area.height.saturating_sub(operations + DETAIL_MIN).max(MIN_TABLE);
    let [table, operations_area, detail] = Layout::vertical([
        Constraint::Length(wanted.min(room)),
        Constraint::Length(operations),
        Constraint::Min(0),
    ])
    .areas(area);
    node_table(state, &facts, &listed, &entries, table, buf);
    if operations > 0 {
        super::operations::render(state, operations_area, buf);
    }
    let selected = listed.get(state.fleet_row).map(|&i| &state.fleet.nodes[i]);
    node_detail(state, selected, detail, buf);
}

/// The farm board's lines: one on wide screens, two where it wraps.
fn board_height(width: u16) -> u16 {
    if width >= WIDE { 1 } else { 2 }
}

/// Rows the detail pane keeps however many nodes there are.
const DETAIL_MIN: u16 = 12;
/// Rows the node table keeps however short the screen.
const MIN_TABLE: u16 = 6;

/// Where the rates (read from the store's decision stream) stand: the time they are taken at, their
/// style and, while the store is away, their age. They freeze at the loss, never falling to 0.
fn rates(state: &State) -> (chrono::DateTime<chrono::Utc>, ratatui::style::Style, Option<String>) {
    let (style, age) = match state.store_lost_at() {
        Some(lost) => (state.theme.stale(), Some(elapsed(state.now, lost))),
        None => (state.theme.gauge(), None),
    };
    (state.rates_at(), style, age)
}

fn node_table(
    state: &State,
    facts: &[NodeFacts<'_>],
    listed: &[usize],
    entries: &[Entry],
    area: Rect,
    buf: &mut Buffer,
) {
    let theme = &state.theme;
    let wide = area.width >= WIDE;
    let wider = area.width >= WIDER;
    let (rates_at, rates_style, rates_age) = rates(state);
    let (req_title, tok_title) = match &rates_age {
        Some(age) => (format!("REQ/S stale {age}"), format!("TOK/S stale {age}")),
        None => ("REQ/S (10 s)".to_string(), "TOK/S (10 s)".to_string()),
    };
    let mut titles = vec!["NODE", "HEALTH", "STATE", "MEMORY", "PRESS", "INFL", "BATCH", "POLL"];
    if wide {
        titles.extend([req_title.as_str(), tok_title.as_str()]);
    }
    if wider {
        titles.extend(["WATTS", "TOK/J"]);
    }
    titles.push("LOADED");
    let header = Row::new(titles).style(theme.dim());
    // Counts every router reports through the store stop with it: their last values, stale.
    let in_flight_style = if state.in_flight_from_store && state.store.outage().is_some() {
        theme.stale()
    } else {
        ratatui::style::Style::default()
    };
    // Batch attempts are always read from the store: they stop with it.
    let batch_style = if state.store.outage().is_some() {
        theme.stale()
    } else {
        ratatui::style::Style::default()
    };
    // The table scrolls as ratatui's would with the selection kept in view, but only the rows in
    // view are built: 200 nodes cost what 30 do.
    let block = view_block(state, area.width, order_title(state, listed.len()));
    let inner = block.inner(area);
    let [board, table] =
        Layout::vertical([Constraint::Length(board_height(area.width)), Constraint::Min(0)]).areas(inner);
    let selected = entries
        .iter()
        .position(|e| matches!(e, Entry::Node { position, .. } if *position == state.fleet_row));
    let height = usize::from(table.height.saturating_sub(1)).max(1);
    let offset = selected.map_or(0, |s| (s + 1).saturating_sub(height));
    let mut rows: Vec<Row> = Vec::with_capacity(height);
    for entry in entries.iter().skip(offset).take(height) {
        let index = match *entry {
            Entry::Group { group, members } => {
                let noun = if members == 1 { "node" } else { "nodes" };
                rows.push(Row::new([group.label().to_string(), format!("{members} {noun}")]).style(theme.accent()));
                continue;
            }
            Entry::Node { index, .. } => index,
        };
        let node = &state.fleet.nodes[index];
        let drain = state.control.node_state(&node.name);
        let in_flight = match &state.in_flight {
            Some(counts) => format!("{}/{}", counts.get(&node.name).copied().unwrap_or(0), node.parallel),
            None => format!("–/{}", node.parallel),
        };
        let poll = node
            .poll_latency_ms
            .map(|ms| format!("{ms}ms"))
            .unwrap_or_else(|| "–".into());
        let health = if node.is_stale() {
            format!("{} (stale)", node.health.as_str())
        } else {
            node.health.as_str().to_string()
        };
        let mut cells = vec![
            Cell::from(node.name.as_str()),
            Cell::from(health).style(theme.health(node.health)),
            Cell::from(drain.as_str()).style(drain_style(state, drain)),
            Cell::from(memory(node)).style(theme.gauge()),
            pressure_cell(state, node),
            Cell::from(in_flight).style(in_flight_style),
            Cell::from(batch_slots(state, &node.name)).style(batch_style),
            Cell::from(poll),
        ];
        if wide {
            let (requests, tokens) = state.rates.series(&node.name, rates_at, 10);
            let (req_rate, tok_rate) = state.rates.mean(&node.name, rates_at, 10);
            cells.push(Cell::from(format!("{} {req_rate:>4.1}", sparkline(&requests, 1))).style(rates_style));
            cells.push(Cell::from(format!("{} {tok_rate:>5.0}", sparkline(&tokens, 1))).style(rates_style));
            if wider {
                let watts = node_watts(node);
                cells.push(Cell::from(watts.map_or_else(|| "–".into(), |w| format!("{w:>5.1}W"))));
                cells.push(Cell::from(tokens_per_joule(tok_rate, watts)).style(rates_style));
            }
        }
        cells.push(Cell::from(loaded(state, node)));
        rows.push(Row::new(cells).style(theme.text()));
    }
    let mut widths = vec![
        Constraint::Length(8),
        Constraint::Length(12),
        Constraint::Length(8),
        Constraint::Length(18),
        Constraint::Length(5),
        Constraint::Length(5),
        Constraint::Length(5),
        Constraint::Length(5),
    ];
    if wide {
        widths.extend([Constraint::Length(15), Constraint::Length(16)]);
    }
    if wider {
        widths.extend([Constraint::Length(6), Constraint::Length(5)]);
    }
    widths.push(Constraint::Fill(1));
    block.render(area, buf);
    Paragraph::new(farm_board(state, facts, rates_at, wide))
        .wrap(Wrap { trim: true })
        .render(board, buf);
    let mut selection = TableState::default().with_selected(selected.map(|s| s - offset));
    StatefulWidget::render(
        Table::new(rows, widths)
            .header(header)
            .row_highlight_style(theme.selected()),
        table,
        buf,
        &mut selection,
    );
}

/// One line of the node table: a state group's header, or a listed node.
enum Entry {
    Group { group: NodeGroup, members: usize },
    Node { position: usize, index: usize },
}

/// The table's lines in order: the listed nodes, each group headed when grouped.
fn entries(state: &State, facts: &[NodeFacts<'_>], listed: &[usize]) -> Vec<Entry> {
    let mut entries = Vec::with_capacity(listed.len() + 5);
    let mut current = None;
    for (position, &index) in listed.iter().enumerate() {
        let group = facts[index].group;
        if state.fleet_order.grouped && current != Some(group) {
            let members = listed.iter().filter(|&&i| facts[i].group == group).count();
            entries.push(Entry::Group { group, members });
            current = Some(group);
        }
        entries.push(Entry::Node { position, index });
    }
    entries
}

/// ` sort tok/s ↓ · grouped · /llama: 3 of 200 `: how the table is ordered and narrowed.
fn order_title(state: &State, listed: usize) -> Line<'static> {
    let order = &state.fleet_order;
    let mut parts = vec![format!(
        "sort {} {}",
        order.sort.label(),
        if order.reversed { "↑" } else { "↓" }
    )];
    if order.grouped {
        parts.push("grouped".into());
    }
    if !order.filter.is_empty() {
        parts.push(format!("/{}: {listed} of {}", order.filter, state.fleet.nodes.len()));
    }
    Line::styled(format!(" {} (o O g /) ", parts.join(" · ")), state.theme.dim()).right_aligned()
}

/// The farm at a glance, in the spirit of k9s pulses: nodes by state, models loaded, farm
/// tokens per second, requests in flight, batch jobs queued, pressure counts, and (when `wide`)
/// power and tokens per joule.
fn farm_board(
    state: &State,
    facts: &[NodeFacts],
    rates_at: chrono::DateTime<chrono::Utc>,
    wide: bool,
) -> Line<'static> {
    let theme = &state.theme;
    let nodes = &state.fleet.nodes;
    let count = |group: NodeGroup| facts.iter().filter(|f| f.group == group).count();
    let mut spans = vec![Span::styled(
        format!(" {}/{} up", count(NodeGroup::Up), nodes.len()),
        theme.text(),
    )];
    for (group, style) in [
        (NodeGroup::Degraded, theme.warning()),
        (NodeGroup::Down, theme.warning()),
        (NodeGroup::Draining, theme.warning()),
        (NodeGroup::Drained, theme.dim()),
    ] {
        let n = count(group);
        if n > 0 {
            spans.push(Span::styled(format!(" · {n} {}", group.label()), style));
        }
    }
    let loaded: usize = nodes.iter().map(|n| n.loaded.len()).sum();
    let tokens: f64 = facts.iter().map(|f| f.tokens_per_sec).sum();
    let in_flight = state
        .in_flight
        .as_ref()
        .map_or_else(|| "–".to_string(), |c| c.values().sum::<u32>().to_string());
    let queued = state
        .jobs
        .as_ref()
        .map_or_else(|| "–".to_string(), |jobs| jobs.queued().to_string());
    spans.push(Span::styled(
        format!(" │ {loaded} models loaded │ {tokens:.0} tok/s │ {in_flight} in flight │ {queued} jobs queued"),
        theme.text(),
    ));
    for level in [MemoryPressure::Critical, MemoryPressure::Warn] {
        let count = state.fleet.count_at(level);
        if count > 0 {
            spans.push(Span::styled(format!(" │ {count} {level}"), theme.pressure(level)));
        }
    }
    // Watts and the tokens of the nodes that report watts, summed in one pass.
    let (powered, watts, powered_tokens) = nodes
        .iter()
        .filter_map(|n| node_watts(n).map(|w| (n, w)))
        .fold((0, 0.0, 0.0), |(count, watts, tokens), (n, w)| {
            (count + 1, watts + w, tokens + state.rates.mean(&n.name, rates_at, 10).1)
        });
    if wide && powered > 0 {
        spans.push(Span::styled(
            format!(
                " │ {watts:.0} W · {} tok/J",
                tokens_per_joule(powered_tokens, Some(watts)).trim()
            ),
            theme.text(),
        ));
    }
    Line::from(spans)
}

/// The node's memory pressure, short, in the health roles (`–` when it reports none).
fn pressure_cell<'a>(state: &State, node: &NodeSnapshot) -> Cell<'a> {
    match node.pressure() {
        Some(level) => {
            let text = match level {
                MemoryPressure::Normal => "norm",
                MemoryPressure::Warn => "warn",
                MemoryPressure::Critical => "CRIT",
            };
            Cell::from(text).style(state.theme.pressure(level))
        }
        None => Cell::from("–").style(state.theme.dim()),
    }
}

/// The node's draw in watts, where macmon reports it.
fn node_watts(node: &NodeSnapshot) -> Option<f64> {
    node.metrics.as_ref()?.power.as_ref()?.watts()
}

/// Tokens per joule (tok/s ÷ W): how much work each watt buys; `–` without a power figure.
fn tokens_per_joule(tokens_per_sec: f64, watts: Option<f64>) -> String {
    match watts {
        Some(w) if w > 0.0 => format!("{:>5.1}", tokens_per_sec / w),
        _ => "–".into(),
    }
}

/// Slots of `node` taken by batch job attempts (every router's), `–` before the first read.
fn batch_slots(state: &State, node: &str) -> String {
    state
        .jobs
        .as_ref()
        .map_or_else(|| "–".into(), |jobs| jobs.running_on(node).to_string())
}

fn drain_style(state: &State, drain: DrainState) -> ratatui::style::Style {
    match drain {
        DrainState::Active => state.theme.text(),
        DrainState::Draining => state.theme.warning(),
        DrainState::Drained => state.theme.dim(),
    }
}

/// `████░░ 18.2/32.0G` from the agent's metrics.
fn memory(node: &NodeSnapshot) -> String {
    match &node.metrics {
        Some(m) => format!(
            "{} {}/{}",
            bar(m.memory_used_bytes, m.memory_total_bytes, 6),
            bytes(m.memory_used_bytes).trim_end_matches('G'),
            bytes(m.memory_total_bytes)
        ),
        None => "no metrics".into(),
    }
}

/// Loaded models with size and time to unload: `llama3.1:8b 4.9G 4m12s`.
fn loaded(state: &State, node: &NodeSnapshot) -> String {
    if node.loaded.is_empty() {
        return "–".into();
    }
    node.loaded
        .iter()
        .map(|m| format!("{} {} {}", m.name, bytes(m.size_bytes), until(state.now, m.expires_at)))
        .collect::<Vec<_>>()
        .join(", ")
}

fn node_detail(state: &State, selected: Option<&NodeSnapshot>, area: Rect, buf: &mut Buffer) {
    let theme = &state.theme;
    let block = Block::bordered().border_style(theme.border());
    let Some(node) = selected else {
        Paragraph::new("no nodes configured").block(block).render(area, buf);
        return;
    };
    let label = |text: &'static str| Span::styled(text, theme.dim());
    let mut lines = Vec::new();
    let seen = node
        .last_seen
        .map(|t| ago(state.now, t))
        .unwrap_or_else(|| "never".into());
    lines.push(Line::from(vec![
        label("health "),
        Span::styled(node.health.as_str(), theme.health(node.health)),
        label("  state "),
        Span::raw(state.control.node_state(&node.name).as_str()),
        label("  parallel "),
        Span::raw(node.parallel.to_string()),
        label("  batch "),
        Span::raw(format!("{} running", batch_slots(state, &node.name))),
        label("  last seen "),
        Span::raw(seen),
    ]));
    if let Some(m) = &node.metrics {
        lines.push(Line::from(vec![
            label("memory "),
            Span::raw(format!(
                "{} / {}",
                bytes(m.memory_used_bytes),
                bytes(m.memory_total_bytes)
            )),
            label("  swap "),
            Span::raw(format!("{} / {}", bytes(m.swap_used_bytes), bytes(m.swap_total_bytes))),
            label("  cpu "),
            Span::raw(format!("{:.0}% of {}", m.cpu_percent, m.cpu_count)),
            label("  load "),
            Span::raw(format!(
                "{:.2} {:.2} {:.2}",
                m.load_average[0], m.load_average[1], m.load_average[2]
            )),
        ]));
    }
    if let Some(m) = &node.metrics {
        let mut spans = Vec::new();
        if let Some(p) = &m.pressure {
            spans.push(label("pressure "));
            spans.push(Span::styled(p.level.as_str(), theme.pressure(p.level)));
            let detail = match (p.compressor_bytes, p.psi_some_avg10, p.psi_full_avg10) {
                (_, Some(some), Some(full)) => format!(" (PSI some {some:.1}% full {full:.1}%)"),
                (Some(compressed), _, _) => format!(" (compressor {})", bytes(compressed)),
                _ => String::new(),
            };
            spans.push(Span::raw(detail));
            if let Some(history) = state.pressure_history.glyphs(&node.name) {
                spans.push(label("  last 3 min "));
                spans.push(Span::styled(history, theme.gauge()));
            }
        }
        if let Some(power) = &m.power {
            let watts = |w: Option<f64>| w.map_or_else(|| "–".into(), |w| format!("{w:.1}"));
            spans.push(label(if spans.is_empty() { "power " } else { "  power " }));
            spans.push(Span::raw(format!(
                "{} W (gpu {} ane {} cpu {})",
                watts(power.watts()),
                watts(power.gpu_watts),
                watts(power.ane_watts),
                watts(power.cpu_watts)
            )));
            if let (Some(gpu), Some(cpu)) = (power.gpu_temp_c, power.cpu_temp_c) {
                spans.push(label("  soc "));
                spans.push(Span::raw(format!("gpu {gpu:.0}°C cpu {cpu:.0}°C")));
            }
        }
        if !spans.is_empty() {
            lines.push(Line::from(spans));
        }
    }
    if let Some(err) = &node.last_error {
        lines.push(Line::from(vec![
            label("last error "),
            Span::styled(err.as_str(), theme.warning()),
        ]));
    }
    let seconds = usize::from(area.width.saturating_sub(60) / 2).clamp(8, 60);
    let (rates_at, rates_style, rates_age) = rates(state);
    let (requests, tokens) = state.rates.series(&node.name, rates_at, seconds);
    let (req_rate, tok_rate) = state.rates.mean(&node.name, rates_at, seconds);
    let figure_style = if rates_age.is_some() { rates_style } else { theme.text() };
    lines.push(Line::from(vec![
        label("req/s "),
        Span::styled(sparkline(&requests, 1), rates_style),
        Span::styled(format!(" {req_rate:.1}"), figure_style),
        label("   tok/s "),
        Span::styled(sparkline(&tokens, 1), rates_style),
        Span::styled(format!(" {tok_rate:.0}"), figure_style),
        match &rates_age {
            Some(age) => Span::styled(
                format!("  stale {age}: the store is unreachable, routing goes on"),
                rates_style,
            ),
            None => label(if seconds >= 30 {
                "  (per second, all routers)"
            } else {
                ""
            }),
        },
    ]));
    lines.push(Line::from(vec![label("loaded "), Span::raw(loaded(state, node))]));
    let installed: Vec<String> = node
        .installed
        .iter()
        .map(|m| format!("{} {}", m.name, bytes(m.size_bytes)))
        .collect();
    lines.push(Line::from(vec![label("installed "), Span::raw(installed.join(", "))]));
    lines.push(Line::styled("recent decisions", theme.dim()));
    let room = usize::from(area.height.saturating_sub(2)).saturating_sub(lines.len());
    let recent = state
        .decisions
        .iter()
        .rev()
        .filter(|r| r.node.as_deref() == Some(node.name.as_str()))
        .take(room);
    for r in recent {
        lines.push(Line::from(vec![
            Span::raw(format!("  {} ", r.ts.format("%H:%M:%S"))),
            Span::styled(format!("{:<18}", r.agent), theme.text()),
            Span::raw(format!("{:<13}", r.effective_class.as_str())),
            Span::raw(format!("{} {} ms", r.model.as_deref().unwrap_or("–"), r.latency_ms)),
        ]));
    }
    Paragraph::new(lines)
        .wrap(Wrap { trim: false })
        .block(
            block
                .title(Line::styled(format!(" {} ", node.name), theme.accent()))
                .title(actions_hint(state)),
        )
        .render(area, buf);
}

/// The node keys, in the detail pane's title (or why there are none).
fn actions_hint(state: &State) -> Line<'static> {
    let theme = &state.theme;
    if state.read_only {
        return Line::styled(" read-only: no actions ", theme.dim()).right_aligned();
    }
    if state.store.outage().is_some() {
        return Line::styled(" store unreachable: no actions ", theme.dim()).right_aligned();
    }
    let mut spans = Vec::new();
    for (key, word) in [("d", "drain"), ("u", "undrain"), ("p", "pull"), ("P", "pull all")] {
        spans.push(Span::styled(format!(" {key}"), theme.accent()));
        spans.push(Span::styled(format!(" {word}"), theme.dim()));
    }
    spans.push(Span::raw(" "));
    Line::from(spans).right_aligned()
}
