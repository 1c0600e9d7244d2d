//! The fleet poller's cost per node (issue 15): its CPU must grow linearly with the nodes it
//! polls, so a 200-node farm costs each node what a 12-node one does.
//!
//! `cargo bench --bench poller`. For 12, 50 and 200 nodes: a [`SimFarm`] of that size on a
//! runtime of its own, and the [`FleetPoller`] with the console's cadence on a single-threaded
//! runtime on a thread of its own, whose CPU time (`/proc/thread-self/schedstat`) is read over
//! `FARMHAND_BENCH_POLL_SECS` seconds (default 20) once every node is up. Prints the CPU per node
//! at each size; the verdict: the per-node cost at 200 nodes is at most 1.5 × the one at 12.
//! Exits 1 on a miss or when a run measured nothing. Linux only (it reads `/proc`).

use std::time::{Duration, Instant};

use farmhand::fleet::{Cadence, FleetPoller, Health};
use farmhand::sim::{SimFarm, SimOptions};

/// Fleet sizes measured.
const SIZES: [u16; 3] = [12, 50, 200];
/// Largest ratio of the per-node cost at 200 nodes to the one at 12 that still reads as linear.
const LINEAR_LIMIT: f64 = 1.5;

/// CPU seconds this thread has run, to the nanosecond from `/proc/thread-self/schedstat` (the
/// 10 ms ticks of `stat` would make 12 nodes' few milliseconds a coin toss).
fn thread_cpu_secs() -> Option<f64> {
    let schedstat = std::fs::read_to_string("/proc/thread-self/schedstat").ok()?;
    let nanos: f64 = schedstat.split_whitespace().next()?.parse().ok()?;
    Some(nanos / 1e9)
}

/// CPU percent of one core the poller uses for `nodes` nodes, over `secs` seconds.
fn measure(nodes: u16, secs: u64) -> Option<f64> {
    let farm_runtime = tokio::runtime::Runtime::new().expect("farm runtime");
    let farm = farm_runtime
        .block_on(SimFarm::start(SimOptions::ephemeral(nodes, 1.0)))
        .expect("the simulator starts");
    let config = farm.fleet_config();
    let poller = std::thread::spawn(move || {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("poller runtime");
        runtime.block_on(async move {
            let mut fleet = FleetPoller::start(&config.resolved_nodes(), Cadence::default());
            let all_up = fleet.wait_for(|f| f.nodes.iter().all(|n| n.health == Health::Up && n.metrics.is_some()));
            tokio::time::timeout(Duration::from_secs(60), all_up).await.ok()?.ok()?;
            let (before, started) = (thread_cpu_secs()?, Instant::now());
            tokio::time::sleep(Duration::from_secs(secs)).await;
            let used = thread_cpu_secs()? - before;
            Some(used / started.elapsed().as_secs_f64() * 100.0)
        })
    });
    let cpu = poller.join().ok().flatten();
    farm_runtime.block_on(farm.shutdown());
    cpu
}

fn main() {
    let secs: u64 = std::env::var("FARMHAND_BENCH_POLL_SECS")
        .ok()
        .and_then(|v| v.parse().ok())
        .filter(|&s| s > 0)
        .unwrap_or(20);
    println!("poller: CPU of the fleet poller (its own thread), {secs} s per size, console cadence");
    let mut per_node = Vec::new();
    for nodes in SIZES {
        match measure(nodes, secs) {
            Some(cpu) if cpu > 0.0 => {
                let each = cpu / f64::from(nodes);
                println!(
                    "  {nodes:>3} nodes: {cpu:>6.2} % of one core, {:.1} µs of CPU per node per second",
                    each * 1e4
                );
                per_node.push((nodes, each));
            }
            other => {
                println!("  {nodes:>3} nodes: measured nothing ({other:?})  FAIL");
                std::process::exit(1);
            }
        }
    }
    let first = per_node.first().map_or(0.0, |(_, each)| *each);
    let last = per_node.last().map_or(0.0, |(_, each)| *each);
    let ratio = last / first;
    let pass = ratio <= LINEAR_LIMIT;
    println!(
        "  per-node cost at 200 nodes / at 12 nodes <= {LINEAR_LIMIT} (linear)      {ratio:>6.2}  {}",
        if pass { "PASS" } else { "FAIL" }
    );
    if !pass {
        std::process::exit(1);
    }
}
