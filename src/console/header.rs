//! The header line: store connection, policy version, today's frontier spend, local share,
//! read-only or read-write, clock.

use ratatui::buffer::Buffer;
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Paragraph, Widget};

use super::format::{elapsed, percent, seconds_until, usd};
use super::state::{State, StoreOutage, StoreStatus};
use crate::domain::{Endpoint, MemoryPressure};
use crate::quality::{SloCheck, SloKind};

/// Widths below which the header drops its labels.
const COMPACT: u16 = 120;

/// `store down 41s (since 03:12:04) · attempt 3 in 2 s`: how long, since when, where reconnecting stands.
fn outage_text(state: &State, outage: &StoreOutage, compact: bool) -> String {
    let down = elapsed(state.now, outage.since);
    let next = match outage.retry_at {
        Some(at) => format!("in {} s", seconds_until(state.now, at)),
        None => "now…".into(),
    };
    if compact {
        format!("store down {down} · try {} {next}", outage.attempt)
    } else {
        format!(
            "store down {down} (since {}) · attempt {} {next}",
            outage.since.format("%H:%M:%S"),
            outage.attempt
        )
    }
}

/// `routine error_rate 4.0% > 2.0%`: which objective, what the last hour shows, the target.
fn slo_text(check: &SloCheck) -> String {
    let show = |v: f64| match check.kind {
        SloKind::TtftP95Ms => format!("{v:.0} ms"),
        _ => format!("{:.1}%", v * 100.0),
    };
    let relation = if check.kind == SloKind::JsonValidRate { "<" } else { ">" };
    let observed = check.observed.map_or_else(|| "—".to_string(), show);
    format!(
        "{} {} {observed} {relation} {}",
        check.class,
        check.kind.as_str(),
        show(check.target)
    )
}

/// Draws the header into `area` (one line).
pub fn render(state: &State, area: Rect, buf: &mut Buffer) {
    let theme = &state.theme;
    let compact = area.width < COMPACT;
    let sep = Span::styled(if compact { " │ " } else { "  │ " }, theme.dim());
    let store = match &state.store {
        StoreStatus::Connecting => Span::styled("store connecting…", theme.warning()),
        StoreStatus::Connected if compact => Span::styled("store ok", theme.health(crate::fleet::Health::Up)),
        StoreStatus::Connected => Span::styled(
            format!("store connected {}", state.store_label),
            theme.health(crate::fleet::Health::Up),
        ),
        StoreStatus::Down(outage) => Span::styled(
            outage_text(state, outage, compact),
            theme.health(crate::fleet::Health::Down),
        ),
    };
    // Spend comes from the store: while it is away, its last figures show in the stale role.
    let from_store = if state.store.outage().is_some() {
        theme.stale()
    } else {
        theme.text()
    };
    let today = state.spend.as_ref().map(|s| &s.today);
    let spent = today.map(|t| t.endpoint(Endpoint::Frontier).cost_usd).unwrap_or(0.0);
    let over_budget = state.budget_usd > 0.0 && spent >= state.budget_usd;
    let label = if compact { "" } else { "frontier today " };
    let budget = if state.budget_usd > 0.0 {
        format!("{label}{}/{}", usd(spent), usd(state.budget_usd))
    } else {
        format!("{label}{}", usd(spent))
    };
    let mut spans = vec![
        Span::styled(if compact { " " } else { " farmhand " }, theme.accent()),
        store,
        sep.clone(),
    ];
    let critical = state.fleet.count_at(MemoryPressure::Critical);
    if critical > 0 {
        let text = if compact {
            format!("⚠ {critical} crit")
        } else {
            let nodes = if critical == 1 { "node" } else { "nodes" };
            format!("⚠ memory pressure critical on {critical} {nodes}")
        };
        spans.push(Span::styled(text, theme.pressure(MemoryPressure::Critical)));
        spans.push(sep.clone());
    }
    let breaches = state
        .spend
        .as_ref()
        .map(|spend| spend.slo_breaches(&state.quality))
        .unwrap_or_default();
    if let Some(first) = breaches.first() {
        let text = if compact {
            format!("⚠ {} SLO", breaches.len())
        } else {
            let more = match breaches.len() {
                1 => String::new(),
                n => format!(" (+{} more)", n - 1),
            };
            format!("⚠ SLO {}{more}", slo_text(first))
        };
        spans.push(Span::styled(text, theme.warning()));
        spans.push(sep.clone());
    }
    spans.extend([
        Span::styled(
            format!("{}v{}", if compact { "" } else { "policy " }, state.control.version),
            theme.text(),
        ),
        sep.clone(),
        Span::styled(budget, if over_budget { theme.warning() } else { from_store }),
        sep.clone(),
        Span::styled(
            format!("local {}", percent(today.and_then(|t| t.local_token_share()))),
            if state.store.outage().is_some() {
                from_store
            } else {
                theme.endpoint(Endpoint::Local)
            },
        ),
        sep.clone(),
        Span::styled(if state.read_only { "[RO]" } else { "[RW]" }, theme.accent()),
    ]);
    if state.paused_at.is_some() {
        spans.push(sep.clone());
        spans.push(Span::styled("PAUSED", theme.warning()));
    }
    spans.push(sep);
    let clock = if compact { "%H:%M:%S" } else { "%H:%M:%S UTC" };
    spans.push(Span::styled(state.now.format(clock).to_string(), theme.text()));
    Paragraph::new(Line::from(spans)).style(theme.bar()).render(area, buf);
}
