//! The routers, asked directly: which decisions each holds for the store (in memory and in its
//! journal). The list of routers comes from their presence rows while the store answers and is
//! kept when it stops, which is when the counts matter most. A router that still answers stays
//! listed even when its presence row is stale: right after an outage the console's store may be
//! back before the router's own presence report is.

use std::time::Duration;

use chrono::Utc;
use tokio::sync::mpsc;

use super::{QUERY_TIMEOUT, StoreLink, bounded};
use crate::console::event::Event;
use crate::console::state::RouterHold;
use crate::store::{RouterEndpoint, Store};
use crate::wire::{ROUTER_STATUS_PATH, RouterStatus};

/// How often the routers are asked.
const EVERY: Duration = Duration::from_secs(1);
/// Longest one router may take to answer.
const ROUTER_TIMEOUT: Duration = Duration::from_millis(800);

/// Asks every known router for its status every second; `token` is `router.status_token`, and
/// `local` the routers in this process, known before any presence row is read.
pub async fn poll(
    store: Store,
    link: StoreLink,
    token: Option<String>,
    local: Vec<RouterEndpoint>,
    events: mpsc::Sender<Event>,
) {
    let client = crate::net::http_client()
        .timeout(ROUTER_TIMEOUT)
        .no_proxy()
        .build()
        .unwrap_or_default();
    let mut known: Vec<RouterEndpoint> = local.clone();
    let mut answering: Vec<RouterEndpoint> = Vec::new();
    let mut every = tokio::time::interval(EVERY);
    every.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
    loop {
        every.tick().await;
        if link.is_up() {
            match bounded(QUERY_TIMEOUT, store.routers(Utc::now() - crate::presence::LIVE_WINDOW)).await {
                Ok(routers) => known = still_known(routers, answering.iter().chain(&local)),
                Err(error) => tracing::debug!(%error, "console: cannot list the routers; keeping the last list"),
            }
        }
        let asks = known.iter().map(|router| ask(&client, router, token.as_deref()));
        let holds = futures::future::join_all(asks).await;
        answering = known
            .iter()
            .zip(&holds)
            .filter(|(_, hold)| hold.report.is_ok())
            .map(|(router, _)| router.clone())
            .collect();
        if events.send(Event::Routers(holds)).await.is_err() {
            return;
        }
    }
}

/// The routers with a live presence row, plus those absent from it that answered their status
/// at the last ask or run in this process: a router drops out once it is neither present,
/// answering nor local.
fn still_known<'a>(
    listed: Vec<RouterEndpoint>,
    answering: impl IntoIterator<Item = &'a RouterEndpoint>,
) -> Vec<RouterEndpoint> {
    let mut known = listed;
    for router in answering {
        if !known.iter().any(|k| k.router_id == router.router_id) {
            known.push(router.clone());
        }
    }
    known
}

async fn ask(client: &reqwest::Client, router: &RouterEndpoint, token: Option<&str>) -> RouterHold {
    let report = match &router.status_url {
        None => Err("does not serve its status (an older router)".to_string()),
        Some(base) => {
            let mut request = client.get(format!("{}{ROUTER_STATUS_PATH}", base.trim_end_matches('/')));
            if let Some(token) = token {
                request = request.bearer_auth(token);
            }
            match request.send().await {
                Ok(response) if response.status().is_success() => response
                    .json::<RouterStatus>()
                    .await
                    .map_err(|e| format!("unreadable status: {e}")),
                Ok(response) => Err(format!("status refused: HTTP {}", response.status().as_u16())),
                Err(err) if err.is_timeout() => Err("no answer within 0.8 s".to_string()),
                Err(_) => Err("unreachable".to_string()),
            }
        }
    };
    RouterHold {
        router_id: router.router_id.clone(),
        report,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn router(id: &str) -> RouterEndpoint {
        RouterEndpoint {
            router_id: id.to_string(),
            status_url: Some(format!("http://{id}:8080")),
        }
    }

    #[test]
    fn a_router_that_answers_stays_listed_while_its_presence_is_stale() {
        let known = still_known(vec![router("a")], &[router("a"), router("b")]);
        assert_eq!(known, [router("a"), router("b")]);
        assert_eq!(still_known(Vec::new(), &[]), []);
        assert_eq!(still_known(vec![router("c")], &[]), [router("c")]);
    }
}
