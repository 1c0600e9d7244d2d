//! The live console (`farmhand console`): fleet telemetry, the decision stream, spend, policy and
//! batch jobs.
//!
//! Data flows one way: [`sources`] (one task per source) → [`event::Event`] → [`update::apply`]
//! → [`state::State`] → [`views::render`]. Rendering reads the state and never changes it; keys
//! come from the one table in [`keys`]; colours come from [`theme`].

pub mod actions;
mod app;
mod args;
pub mod backoff;
pub mod command;
pub mod event;
pub mod fleet_order;
pub mod format;
pub mod header;
pub mod jobs;
pub mod keys;
pub mod outage;
pub mod palette;
pub mod pressure_history;
pub mod rates;
pub mod ring;
pub mod settings;
pub mod sources;
pub mod state;
pub mod theme;
pub mod update;
pub mod views;

use chrono::Utc;

pub use app::run;
pub use args::ConsoleArgs;
pub use sources::Sources;
pub use state::State;
pub use theme::Theme;

use crate::config::FleetConfig;
use crate::fleet::{Cadence, FleetPoller};
use crate::store::Store;

/// How the console was asked to look and behave.
#[derive(Debug, Clone, Default)]
pub struct ConsoleOptions {
    /// Theme name; the config's `console.theme` when `None`.
    pub theme: Option<String>,
    /// Refuse every change (the console's actions are not registered).
    pub read_only: bool,
}

/// The theme called `name`, without colour when `NO_COLOR` is set.
pub fn resolve_theme(name: &str) -> anyhow::Result<Theme> {
    let theme = Theme::load(name, Theme::user_dir().as_deref())?;
    Ok(if Theme::no_color_requested() {
        theme.monochrome()
    } else {
        theme
    })
}

/// The starting state for a console over `config`.
pub fn initial_state(config: &FleetConfig, store: &Store, options: &ConsoleOptions) -> anyhow::Result<State> {
    let theme = resolve_theme(options.theme.as_deref().unwrap_or(&config.console.theme))?;
    let mut state = State::new(Utc::now(), theme);
    state.read_only = options.read_only;
    state.policy_base = settings::base_values(config);
    state.keymap = keys::KeyMap::with_remaps(
        config
            .console
            .keys
            .iter()
            .map(|(action, keys)| (action.as_str(), keys.keys())),
    )
    .map_err(|e| anyhow::anyhow!("fleet config: {e}"))?;
    state.frontier_prices = config.frontier_prices(Utc::now().date_naive());
    state.budget_usd = config.policy.daily_frontier_budget_usd;
    state.quality = config.quality.clone();
    state.store_label = store.redacted_url();
    Ok(state)
}

/// `farmhand console`: polls the config's nodes, mirrors control, tails the store.
pub async fn run_console(config: FleetConfig, options: ConsoleOptions) -> anyhow::Result<()> {
    if let Err(err) = crate::net::raise_open_files(crate::net::descriptors_for(config.nodes.len())) {
        tracing::warn!("{err:#}");
    }
    let store = Store::connect_lazy(&config.store.url).await?;
    if !options.read_only {
        migrate_when_reachable(store.clone());
    }
    let mut state = initial_state(&config, &store, &options)?;
    state.in_flight_from_store = true;
    let cadence = Cadence {
        ps: std::time::Duration::from_millis(config.console.poll_ms.max(100)),
        ..Cadence::default()
    };
    let sources = Sources {
        fleet: FleetPoller::start(&config.resolved_nodes(), cadence),
        control: crate::control::watch(store.clone()),
        store: store.clone(),
        in_flight: None,
        router_token: router_token(&config),
        local_routers: Vec::new(),
        quality: config.quality.clone(),
    };
    run(state, sources, operator(&config, store, options.read_only)).await
}

/// `router.status_token`, resolved once (blocking: `op` may run); without it the routers' status
/// is asked for without a token, which routers answer only on loopback.
fn router_token(config: &FleetConfig) -> Option<String> {
    let reference = config.router.status_token.as_ref()?;
    match reference.resolve() {
        Ok(token) => Some(token),
        Err(err) => {
            tracing::warn!(%reference, %err, "router.status_token is unavailable: routers may refuse their status");
            None
        }
    }
}

/// Brings the schema up to date as soon as the store answers (the console shows the outage
/// meanwhile); a schema the store refuses is logged and retried with the same back-off.
fn migrate_when_reachable(store: Store) {
    tokio::spawn(async move {
        let mut backoff = backoff::Backoff::new(sources::RETRY_MIN, sources::RETRY_MAX);
        loop {
            match store.migrate().await {
                Ok(applied) => {
                    tracing::info!(applied, "store schema up to date");
                    return;
                }
                Err(err) => {
                    tracing::warn!(%err, "cannot migrate the store yet; retrying");
                    tokio::time::sleep(backoff.next_delay()).await;
                }
            }
        }
    });
}

/// The operator behind a console's actions: read-only consoles get one that refuses everything.
pub fn operator(config: &FleetConfig, store: Store, read_only: bool) -> crate::actions::Operator {
    let access = if read_only {
        crate::actions::Access::ReadOnly
    } else {
        crate::actions::Access::ReadWrite
    };
    crate::actions::Operator::new(config, store, crate::ops::actor(None), access)
}
