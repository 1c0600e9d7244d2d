//! The pure state of one simulated node: installed and loaded models, memory, slots and queue.
//!
//! Every operation is a function of (state, now, event): no clocks, no I/O, no waiting. The HTTP
//! layer asks it what to do and sleeps where it says.

use std::collections::{BTreeMap, VecDeque};
use std::time::Duration;

use chrono::{DateTime, Utc};

use crate::sim::catalogue::CatalogueModel;
use crate::wire::ollama::KeepAlive;

/// A request's place in the node, from admission to finish.
pub type Ticket = u64;

/// Most models resident at once (Ollama's default on a machine with one GPU).
pub const MAX_LOADED: usize = 3;

/// How the node is built and how fast it loads.
#[derive(Debug, Clone, PartialEq)]
pub struct NodeLimits {
    /// Bytes models may occupy.
    pub model_budget: u64,
    /// Requests served at once.
    pub parallel: u32,
    /// Requests waiting beyond the slots before 503.
    pub max_queue: u32,
    /// Cold-load time per GB of loaded size.
    pub load_per_gb: Duration,
}

/// A model on the node's disk.
#[derive(Debug, Clone, PartialEq)]
pub struct Installed {
    /// What it is.
    pub model: &'static CatalogueModel,
    /// When it was pulled.
    pub modified_at: DateTime<Utc>,
}

/// A model resident in memory.
#[derive(Debug, Clone, PartialEq)]
pub struct Loaded {
    /// What it is.
    pub model: &'static CatalogueModel,
    /// When the load completes (in the past once loaded).
    pub ready_at: DateTime<Utc>,
    /// When the idle timer unloads it.
    pub expires_at: DateTime<Utc>,
    /// Last time a request started or finished on it (for LRU eviction).
    pub last_used: DateTime<Utc>,
    /// Its idle timeout.
    pub keep_alive: KeepAlive,
    /// Requests using it now.
    pub in_flight: u32,
}

/// A request that got a slot.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Start {
    /// The request.
    pub ticket: Ticket,
    /// When its model is ready (now or later, if it is loading).
    pub ready_at: DateTime<Utc>,
}

/// What happened to a new request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Admission {
    /// It has a slot.
    Running(Start),
    /// It waits in the queue.
    Queued(Ticket),
}

/// Why a request was refused.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum Refusal {
    /// The model is not installed.
    #[error("model not found")]
    NotFound,
    /// The model cannot fit even with everything else unloaded.
    #[error("model requires more system memory ({need:.1} GiB) than is available ({have:.1} GiB)")]
    TooLarge {
        /// GiB the model needs.
        need: f64,
        /// GiB models may use.
        have: f64,
    },
    /// Slots and queue are full.
    #[error("{}", crate::wire::ollama::BUSY_TEXT)]
    Busy,
}

/// Where a ticket stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TicketState {
    /// Still waiting.
    Queued,
    /// Has a slot.
    Running(Start),
    /// Finished, cancelled, or its model was deleted while it waited.
    Gone,
}

#[derive(Debug, Clone, PartialEq)]
struct Pending {
    model: String,
    keep_alive: Option<KeepAlive>,
}

#[derive(Debug, Clone, PartialEq)]
struct Running {
    model: String,
    start: Start,
}

/// The state of one node.
#[derive(Debug, Clone, PartialEq)]
pub struct NodeModel {
    limits: NodeLimits,
    installed: BTreeMap<String, Installed>,
    loaded: Vec<Loaded>,
    running: BTreeMap<Ticket, Running>,
    queue: VecDeque<(Ticket, Pending)>,
    next_ticket: Ticket,
}

fn forever() -> chrono::Duration {
    chrono::Duration::days(365 * 292)
}

fn after(now: DateTime<Utc>, keep_alive: KeepAlive) -> DateTime<Utc> {
    match keep_alive {
        KeepAlive::Forever => now + forever(),
        KeepAlive::For(d) => now + chrono::Duration::from_std(d).unwrap_or_else(|_| forever()),
    }
}

impl NodeModel {
    /// A node with these limits and installed models, nothing loaded.
    pub fn new(limits: NodeLimits, installed: &[&'static CatalogueModel], now: DateTime<Utc>) -> Self {
        let installed = installed
            .iter()
            .map(|m| {
                (
                    m.name.to_string(),
                    Installed {
                        model: m,
                        modified_at: now - chrono::Duration::days(3),
                    },
                )
            })
            .collect();
        NodeModel {
            limits,
            installed,
            loaded: Vec::new(),
            running: BTreeMap::new(),
            queue: VecDeque::new(),
            next_ticket: 1,
        }
    }

    /// The node's limits.
    pub fn limits(&self) -> &NodeLimits {
        &self.limits
    }

    /// Installed models by name.
    pub fn installed(&self) -> &BTreeMap<String, Installed> {
        &self.installed
    }

    /// Resident models, latest expiry first, after unloading the expired ones.
    pub fn loaded(&mut self, now: DateTime<Utc>) -> Vec<Loaded> {
        self.expire(now);
        let mut loaded = self.loaded.clone();
        loaded.sort_by_key(|l| std::cmp::Reverse(l.expires_at));
        loaded
    }

    /// Bytes resident models occupy.
    pub fn model_bytes(&self) -> u64 {
        self.loaded.iter().map(|l| l.model.loaded_bytes).sum()
    }

    /// Requests holding a slot.
    pub fn in_flight(&self) -> usize {
        self.running.len()
    }

    /// Requests waiting for a slot.
    pub fn queued(&self) -> usize {
        self.queue.len()
    }

    /// Adds a model to the disk (after a pull).
    pub fn install(&mut self, model: &'static CatalogueModel, now: DateTime<Utc>) {
        self.installed.insert(
            model.name.to_string(),
            Installed {
                model,
                modified_at: now,
            },
        );
    }

    /// Removes a model from the disk; a loaded copy keeps running. False if it was not installed.
    pub fn delete(&mut self, name: &str, now: DateTime<Utc>) -> bool {
        let removed = self.installed.remove(name).is_some();
        self.pump(now);
        removed
    }

    /// A new request for `model`: a slot, a place in the queue, or a refusal.
    pub fn request(
        &mut self,
        now: DateTime<Utc>,
        model: &str,
        keep_alive: Option<KeepAlive>,
    ) -> Result<Admission, Refusal> {
        self.expire(now);
        let installed = self.installed.get(model).ok_or(Refusal::NotFound)?;
        if installed.model.loaded_bytes > self.limits.model_budget {
            let gib = |b: u64| b as f64 / f64::from(1u32 << 30);
            return Err(Refusal::TooLarge {
                need: gib(installed.model.loaded_bytes),
                have: gib(self.limits.model_budget),
            });
        }
        let ticket = self.next_ticket;
        self.next_ticket += 1;
        let pending = Pending {
            model: model.to_string(),
            keep_alive,
        };
        if self.queue.is_empty()
            && let Some(start) = self.try_start(now, ticket, &pending)
        {
            return Ok(Admission::Running(start));
        }
        if self.queue.len() < self.limits.max_queue as usize {
            self.queue.push_back((ticket, pending));
            return Ok(Admission::Queued(ticket));
        }
        Err(Refusal::Busy)
    }

    /// Where `ticket` stands now (queued requests move up as slots and memory free).
    pub fn state(&mut self, now: DateTime<Utc>, ticket: Ticket) -> TicketState {
        self.pump(now);
        if let Some(running) = self.running.get(&ticket) {
            TicketState::Running(running.start)
        } else if self.queue.iter().any(|(t, _)| *t == ticket) {
            TicketState::Queued
        } else {
            TicketState::Gone
        }
    }

    /// A request ends (done, failed or cancelled): its slot frees and its model's idle timer restarts.
    pub fn finish(&mut self, now: DateTime<Utc>, ticket: Ticket) {
        if let Some(running) = self.running.remove(&ticket) {
            if let Some(loaded) = self.loaded.iter_mut().find(|l| l.model.name == running.model) {
                loaded.in_flight = loaded.in_flight.saturating_sub(1);
                loaded.last_used = now;
                loaded.expires_at = after(now, loaded.keep_alive);
            }
        } else {
            self.queue.retain(|(t, _)| *t != ticket);
        }
        self.pump(now);
    }

    /// `keep_alive: 0`: unload now, or as soon as the requests using it finish.
    pub fn unload(&mut self, now: DateTime<Utc>, model: &str) -> Result<(), Refusal> {
        if !self.installed.contains_key(model) && !self.loaded.iter().any(|l| l.model.name == model) {
            return Err(Refusal::NotFound);
        }
        if let Some(loaded) = self.loaded.iter_mut().find(|l| l.model.name == model) {
            loaded.keep_alive = KeepAlive::For(Duration::ZERO);
            loaded.expires_at = now;
        }
        self.pump(now);
        Ok(())
    }

    fn expire(&mut self, now: DateTime<Utc>) {
        self.loaded.retain(|l| l.in_flight > 0 || l.expires_at > now);
    }

    fn pump(&mut self, now: DateTime<Utc>) {
        self.expire(now);
        while let Some((ticket, pending)) = self.queue.front().cloned() {
            if !self.installed.contains_key(&pending.model) {
                self.queue.pop_front();
                continue;
            }
            if self.try_start(now, ticket, &pending).is_none() {
                break;
            }
            self.queue.pop_front();
        }
    }

    fn try_start(&mut self, now: DateTime<Utc>, ticket: Ticket, pending: &Pending) -> Option<Start> {
        if self.running.len() >= self.limits.parallel as usize {
            return None;
        }
        let model = self.installed.get(&pending.model)?.model;
        let ready_at = match self.loaded.iter_mut().find(|l| l.model.name == model.name) {
            Some(loaded) => {
                loaded.in_flight += 1;
                loaded.last_used = now;
                if let Some(keep_alive) = pending.keep_alive {
                    loaded.keep_alive = keep_alive;
                }
                loaded.ready_at
            }
            None => {
                self.make_room(model.loaded_bytes)?;
                let load = self.limits.load_per_gb.mul_f64(model.loaded_bytes as f64 / 1e9);
                let ready_at = now + chrono::Duration::from_std(load).unwrap_or_default();
                let keep_alive = pending.keep_alive.unwrap_or(KeepAlive::DEFAULT);
                self.loaded.push(Loaded {
                    model,
                    ready_at,
                    expires_at: after(ready_at, keep_alive),
                    last_used: now,
                    keep_alive,
                    in_flight: 1,
                });
                ready_at
            }
        };
        let start = Start { ticket, ready_at };
        self.running.insert(
            ticket,
            Running {
                model: model.name.to_string(),
                start,
            },
        );
        Some(start)
    }

    /// Evicts idle models, least recently used first, until `bytes` more fit; evicts nothing if they cannot.
    fn make_room(&mut self, bytes: u64) -> Option<()> {
        let mut idle: Vec<(DateTime<Utc>, &'static str)> = self
            .loaded
            .iter()
            .filter(|l| l.in_flight == 0)
            .map(|l| (l.last_used, l.model.name))
            .collect();
        idle.sort();
        let mut count = self.loaded.len();
        let mut used = self.model_bytes();
        let mut victims = Vec::new();
        let fits = |count: usize, used: u64| count < MAX_LOADED && used + bytes <= self.limits.model_budget;
        let mut candidates = idle.into_iter();
        while !fits(count, used) {
            let (_, name) = candidates.next()?;
            let victim = self.loaded.iter().find(|l| l.model.name == name)?;
            used -= victim.model.loaded_bytes;
            count -= 1;
            victims.push(name);
        }
        self.loaded.retain(|l| !victims.contains(&l.model.name));
        Some(())
    }
}

#[cfg(test)]
mod tests;
