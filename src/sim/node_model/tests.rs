use super::*;
use crate::sim::catalogue::find;

fn t(secs: i64) -> DateTime<Utc> {
    DateTime::from_timestamp(1_800_000_000 + secs, 0).unwrap()
}

fn limits(budget_gb: u64, parallel: u32, max_queue: u32) -> NodeLimits {
    NodeLimits {
        model_budget: budget_gb * 1_000_000_000,
        parallel,
        max_queue,
        load_per_gb: Duration::from_secs(1),
    }
}

fn node(budget_gb: u64, parallel: u32, max_queue: u32, models: &[&str]) -> NodeModel {
    let installed: Vec<_> = models.iter().map(|m| find(m).unwrap()).collect();
    NodeModel::new(limits(budget_gb, parallel, max_queue), &installed, t(0))
}

fn run(node: &mut NodeModel, now: DateTime<Utc>, model: &str) -> Start {
    match node.request(now, model, None).unwrap() {
        Admission::Running(start) => start,
        Admission::Queued(_) => panic!("{model} was queued"),
    }
}

fn names(node: &mut NodeModel, now: DateTime<Utc>) -> Vec<&'static str> {
    let mut names: Vec<_> = node.loaded(now).iter().map(|l| l.model.name).collect();
    names.sort();
    names
}

#[test]
fn cold_load_takes_time_proportional_to_size_then_is_warm() {
    let mut n = node(40, 4, 4, &["llama3.1:8b"]);
    let start = run(&mut n, t(0), "llama3.1:8b");
    assert_eq!(start.ready_at, t(0) + chrono::Duration::milliseconds(6200));
    n.finish(t(10), start.ticket);
    let warm = run(&mut n, t(20), "llama3.1:8b");
    assert_eq!(warm.ready_at, start.ready_at, "already loaded: ready in the past");
    assert_eq!(n.model_bytes(), find("llama3.1:8b").unwrap().loaded_bytes);
}

#[test]
fn unknown_models_are_not_found_and_oversized_ones_refused() {
    let mut n = node(8, 1, 1, &["qwen3:14b"]);
    assert_eq!(n.request(t(0), "nope:1b", None), Err(Refusal::NotFound));
    assert!(matches!(
        n.request(t(0), "qwen3:14b", None),
        Err(Refusal::TooLarge { .. })
    ));
}

#[test]
fn expiry_follows_keep_alive_from_the_end_of_each_request() {
    let mut n = node(40, 4, 4, &["llama3.1:8b"]);
    let start = run(&mut n, t(0), "llama3.1:8b");
    n.finish(t(30), start.ticket);
    let loaded = n.loaded(t(31));
    assert_eq!(loaded[0].expires_at, t(330));
    assert_eq!(names(&mut n, t(329)), ["llama3.1:8b"]);
    assert!(names(&mut n, t(330)).is_empty(), "unloaded after five idle minutes");
}

#[test]
fn keep_alive_replaces_and_persists_and_forever_is_far() {
    let mut n = node(40, 4, 4, &["llama3.1:8b"]);
    let Admission::Running(a) = n
        .request(t(0), "llama3.1:8b", Some(KeepAlive::For(Duration::from_secs(60))))
        .unwrap()
    else {
        panic!()
    };
    n.finish(t(10), a.ticket);
    let b = run(&mut n, t(20), "llama3.1:8b");
    n.finish(t(25), b.ticket);
    assert_eq!(
        n.loaded(t(26))[0].expires_at,
        t(85),
        "a request without keep_alive keeps the last value"
    );
    let Admission::Running(c) = n.request(t(30), "llama3.1:8b", Some(KeepAlive::Forever)).unwrap() else {
        panic!()
    };
    n.finish(t(31), c.ticket);
    assert!(n.loaded(t(32))[0].expires_at > t(365 * 24 * 3600 * 200));
}

#[test]
fn a_model_in_use_never_expires() {
    let mut n = node(40, 4, 4, &["llama3.1:8b"]);
    let Admission::Running(a) = n
        .request(t(0), "llama3.1:8b", Some(KeepAlive::For(Duration::from_secs(1))))
        .unwrap()
    else {
        panic!()
    };
    assert_eq!(names(&mut n, t(100)), ["llama3.1:8b"]);
    n.finish(t(100), a.ticket);
    assert!(names(&mut n, t(102)).is_empty());
}

#[test]
fn unload_is_immediate_when_idle_and_deferred_while_busy() {
    let mut n = node(40, 4, 4, &["llama3.1:8b", "qwen3:8b"]);
    let a = run(&mut n, t(0), "llama3.1:8b");
    n.finish(t(1), a.ticket);
    n.unload(t(2), "llama3.1:8b").unwrap();
    assert!(names(&mut n, t(2)).is_empty());
    let b = run(&mut n, t(3), "qwen3:8b");
    n.unload(t(4), "qwen3:8b").unwrap();
    assert_eq!(names(&mut n, t(4)), ["qwen3:8b"], "in use: unloads after the request");
    n.finish(t(5), b.ticket);
    assert!(names(&mut n, t(5)).is_empty());
    assert_eq!(n.unload(t(6), "gemma3:4b"), Err(Refusal::NotFound));
    assert_eq!(n.unload(t(6), "qwen3:8b"), Ok(()), "not loaded but installed: fine");
}

#[test]
fn lru_eviction_when_memory_is_short() {
    // 14 GB budget: llama3.1:8b (6.2) + qwen3:8b (6.65) fit; gemma3:4b (5.1) needs one out.
    let mut n = node(14, 4, 4, &["llama3.1:8b", "qwen3:8b", "gemma3:4b"]);
    let a = run(&mut n, t(0), "llama3.1:8b");
    n.finish(t(10), a.ticket);
    let b = run(&mut n, t(20), "qwen3:8b");
    n.finish(t(30), b.ticket);
    let c = run(&mut n, t(40), "gemma3:4b");
    assert_eq!(
        names(&mut n, t(40)),
        ["gemma3:4b", "qwen3:8b"],
        "least recently used went first"
    );
    n.finish(t(41), c.ticket);
}

#[test]
fn at_most_three_models_resident() {
    let mut n = node(100, 4, 4, &["llama3.1:8b", "qwen3:8b", "gemma3:4b", "llama3.2:3b"]);
    for (i, m) in ["llama3.1:8b", "qwen3:8b", "gemma3:4b", "llama3.2:3b"]
        .iter()
        .enumerate()
    {
        let s = run(&mut n, t(i as i64 * 10), m);
        n.finish(t(i as i64 * 10 + 1), s.ticket);
    }
    assert_eq!(names(&mut n, t(50)), ["gemma3:4b", "llama3.2:3b", "qwen3:8b"]);
}

#[test]
fn busy_models_are_not_evicted_and_the_request_waits() {
    let mut n = node(14, 4, 4, &["llama3.1:8b", "qwen3:8b", "gemma3:4b"]);
    let a = run(&mut n, t(0), "llama3.1:8b");
    let b = run(&mut n, t(0), "qwen3:8b");
    let Admission::Queued(c) = n.request(t(1), "gemma3:4b", None).unwrap() else {
        panic!("should wait for memory")
    };
    assert_eq!(n.state(t(2), c), TicketState::Queued);
    assert_eq!(
        names(&mut n, t(2)),
        ["llama3.1:8b", "qwen3:8b"],
        "nothing evicted while nothing is idle"
    );
    n.finish(t(3), a.ticket);
    assert!(matches!(n.state(t(3), c), TicketState::Running(_)));
    assert_eq!(names(&mut n, t(3)), ["gemma3:4b", "qwen3:8b"]);
    n.finish(t(4), b.ticket);
    n.finish(t(4), c);
    assert_eq!(n.in_flight(), 0);
}

#[test]
fn slots_then_queue_then_busy_and_fifo() {
    let mut n = node(40, 2, 2, &["llama3.1:8b"]);
    let a = run(&mut n, t(0), "llama3.1:8b");
    let b = run(&mut n, t(0), "llama3.1:8b");
    let Admission::Queued(q1) = n.request(t(0), "llama3.1:8b", None).unwrap() else {
        panic!()
    };
    let Admission::Queued(q2) = n.request(t(0), "llama3.1:8b", None).unwrap() else {
        panic!()
    };
    assert_eq!(n.request(t(0), "llama3.1:8b", None), Err(Refusal::Busy));
    assert_eq!((n.in_flight(), n.queued()), (2, 2));
    n.finish(t(1), a.ticket);
    assert!(matches!(n.state(t(1), q1), TicketState::Running(_)));
    assert_eq!(n.state(t(1), q2), TicketState::Queued);
    n.finish(t(2), q2);
    assert_eq!(
        n.state(t(2), q2),
        TicketState::Gone,
        "a cancelled waiter leaves the queue"
    );
    n.finish(t(3), b.ticket);
    n.finish(t(3), q1);
    assert_eq!((n.in_flight(), n.queued()), (0, 0));
    assert!(matches!(
        n.request(t(4), "llama3.1:8b", None),
        Ok(Admission::Running(_))
    ));
}

#[test]
fn deleting_a_model_drops_its_waiters_but_not_its_runner() {
    let mut n = node(40, 1, 2, &["llama3.1:8b"]);
    let a = run(&mut n, t(0), "llama3.1:8b");
    let Admission::Queued(q) = n.request(t(0), "llama3.1:8b", None).unwrap() else {
        panic!()
    };
    assert!(n.delete("llama3.1:8b", t(1)));
    assert_eq!(names(&mut n, t(1)), ["llama3.1:8b"]);
    n.finish(t(2), a.ticket);
    assert_eq!(n.state(t(2), q), TicketState::Gone);
    assert!(!n.delete("llama3.1:8b", t(3)));
}
