//! Detector scan budget: `scan_text` with every detector on over a 256 KiB request that holds no
//! secret (the worst case: a full scan that finds nothing) takes ≤ 0.5 ms at the median.
//!
//! Two shapes of the same 256 KiB: one string, and ~200 strings of varied length (how the string
//! values of a JSON request look; `scan_text` is called once per string). A `memchr` search for a
//! byte that is not there, over the same bytes, is printed as the floor. Exits 1 when a budget is
//! missed, when nothing was measured, or when the input makes a detector fire (a bench input that
//! is not clean measures the wrong thing).
//!
//! A third shape is the real path: the same strings as a whole chat request (messages of every
//! role, content parts, tool calls with JSON arguments, tools, metadata), scanned the way the
//! gateway scans it: `Exposure::of_request` walks every string of the parsed body (parsing is
//! timed apart: it happens for every request anyway).
//!
//! `FARMHAND_BENCH_ITERS` (default 2000) sets the samples per shape; with `FARMHAND_BENCH_PARTS`
//! set it also times each detector alone over the one string (where the time goes).

use std::hint::black_box;
use std::time::{Duration, Instant};

use farmhand::router::{Detector, DetectorSet, Exposure, detect};
use serde_json::{Value, json};

/// The request size the budget is stated for.
const REQUEST_BYTES: usize = 256 * 1024;
/// The budget for one request, all detectors on.
const BUDGET: Duration = Duration::from_micros(500);

/// A small deterministic generator (xorshift64*), so every run scans the same text.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }

    fn hex(&mut self, len: usize) -> String {
        (0..len)
            .map(|_| char::from(b"0123456789abcdef"[self.below(16) as usize]))
            .collect()
    }

    fn pick<'a>(&mut self, items: &[&'a str]) -> &'a str {
        items[self.below(items.len() as u64) as usize]
    }

    fn uuid(&mut self) -> String {
        format!(
            "{}-{}-4{}-a{}-{}",
            self.hex(8),
            self.hex(4),
            self.hex(3),
            self.hex(3),
            self.hex(12)
        )
    }

    fn timestamp(&mut self) -> String {
        format!(
            "2024-{:02}-{:02}T{:02}:{:02}:{:02}.{:03}Z",
            1 + self.below(12),
            1 + self.below(28),
            self.below(24),
            self.below(60),
            self.below(60),
            self.below(1000)
        )
    }
}

const PROSE: &[&str] = &[
    "Summarise the incident for the on-call channel and keep it short. ",
    "Remember to rotate your token every ninety days; the password field is required on the sign-up form. ",
    "The tokenizer splits the prompt into tokens before the model sees it, so max_tokens counts those. ",
    "Reset my password did not work, and the secret rotation job reported nothing unusual. ",
    "We compared the risk-assessment with the sk-learn baseline and the task-management board. ",
    "Born in the spring release, the passport photo uploader now accepts 2x2 images. ",
    "Version 1.2.3-rc.4+build.5678 shipped on 2024-01-15 after 17 retries and 3 rollbacks. ",
    "Ping @alice about the icon@2x.png asset and the npm i left-pad@1.3.0 upgrade. ",
    "The date of birth field is optional; DOB: unknown is accepted by the importer. ",
    "Order #123456789012 was refunded; invoice 2024-00042 remains open for 30 days. ",
    "Use an API key from the dashboard; never paste the key itself into a ticket. ",
    "The social security office and the passport office close at 17:00 on Fridays. ",
];

const CODE: &[&str] = &[
    "fn select<P: Policy>(p: &P, fleet: &FleetView) -> Option<Decision> {\n    if a == b { return None; }\n    let x = y + 1;\n}\n",
    "def tokenize(text, max_tokens=4096):\n    tokens = tokenizer.encode(text)\n    return tokens[:max_tokens]\n",
    "let password = get_password(&user)?;\nlet token_count = tokens.len();\nlet secret_name = \"db-credentials\";\n",
    "for i in range(0, 100):\n    total += values[i] * 2 + 3\n    print(f\"step {i}: {total:.2f}\")\n",
    "const char *fmt = \"%s: %d\\n\"; // C++17 and C++20 both fine\nint main() { return x+1 == 2; }\n",
    "import { Box } from './box';\nexport function wrap<P<T>>(p: P) { return new Box(p); }\n",
    "SELECT id, created_at, total FROM orders WHERE total > 100 AND status = 'paid' LIMIT 50;\n",
    "PWD=/home/build/work\nPATH=/usr/local/bin:/usr/bin\nNODE_ENV=production\nPORT=8080\n",
];

fn json_record(rng: &mut Rng) -> String {
    format!(
        "{{\"id\":\"{}\",\"sha\":\"{}\",\"short\":\"{}\",\"ts\":\"{}\",\"count\":{},\"price\":\"{}.{:02}\",\"order\":\"#{}\",\"image\":\"{}.png\",\"status\":\"{}\",\"url\":\"https://example.com/api/v2/items/{}?page={}\"}}\n",
        rng.uuid(),
        rng.hex(40),
        rng.hex(7),
        rng.timestamp(),
        rng.below(1_000_000),
        rng.below(1000),
        rng.below(100),
        100_000_000 + rng.below(900_000_000),
        rng.pick(&[
            "iVBORw0KGgoAAAANSUhEUgAAAAEAAAAB",
            "R0lGODlhAQABAIAAAP",
            "thumb_8f3a9c2e1b7d",
            "UklGRiIAAABXRUJQ"
        ]),
        rng.pick(&["paid", "open", "refunded", "shipped"]),
        rng.below(100_000),
        rng.below(50),
    )
}

fn log_line(rng: &mut Rng) -> String {
    format!(
        "{} {} router req={} node=mini-{:02} model=qwen3:14b v{}.{}.{} commit={} latency_ms={} bytes={} status={}\n",
        rng.timestamp(),
        rng.pick(&["INFO", "WARN", "DEBUG", "ERROR"]),
        rng.uuid(),
        1 + rng.below(12),
        rng.below(3),
        rng.below(20),
        rng.below(100),
        rng.hex(12),
        rng.below(5000),
        rng.below(10_000_000),
        rng.pick(&["200", "429", "503", "502"]),
    )
}

/// A realistic, secret-free request of `len` bytes, as one string.
fn request_text(len: usize) -> String {
    let mut rng = Rng(0x9E37_79B9_7F4A_7C15);
    let mut out = String::with_capacity(len + 1024);
    while out.len() < len {
        match rng.below(4) {
            0 => (0..3).for_each(|_| out.push_str(rng.pick(PROSE))),
            1 => out.push_str(rng.pick(CODE)),
            2 => out.push_str(&json_record(&mut rng)),
            _ => (0..3).for_each(|_| out.push_str(&log_line(&mut rng))),
        }
    }
    let mut cut = len;
    while !out.is_char_boundary(cut) {
        cut -= 1;
    }
    out.truncate(cut);
    out
}

/// The same text cut into ~200 strings of varied length (a few bytes to several KiB).
fn split(text: &str) -> Vec<&str> {
    let mut rng = Rng(0xD1B5_4A32_D192_ED03);
    let mut parts = Vec::new();
    let mut rest = text;
    while !rest.is_empty() {
        let want = match rng.below(10) {
            0..=3 => 8 + rng.below(64),
            4..=7 => 200 + rng.below(1200),
            _ => 2000 + rng.below(4500),
        } as usize;
        let mut cut = want.min(rest.len());
        while !rest.is_char_boundary(cut) {
            cut += 1;
        }
        let (head, tail) = rest.split_at(cut);
        parts.push(head);
        rest = tail;
    }
    parts
}

/// A chat request whose string values are `parts`, spread over every place a provider receives.
fn request_of(parts: &[&str]) -> Value {
    let mut messages = Vec::new();
    let mut tools = Vec::new();
    let mut metadata = serde_json::Map::new();
    for (i, part) in parts.iter().enumerate() {
        match i % 6 {
            0 => messages.push(json!({"role": "user", "content": part})),
            1 => messages.push(json!({"role": "user", "content": [{"type": "text", "text": part}]})),
            2 => messages.push(json!({"role": "assistant", "content": null, "tool_calls": [
                {"id": format!("call_{i}"), "type": "function", "function": {"name": "lookup", "arguments": json!({"query": part}).to_string()}}
            ]})),
            3 => messages.push(json!({"role": "tool", "tool_call_id": format!("call_{}", i - 1), "content": part})),
            4 => tools.push(json!({"type": "function", "function": {"name": format!("tool_{i}"), "description": part, "parameters": {"type": "object", "properties": {"q": {"type": "string"}}}}})),
            _ => {
                metadata.insert(format!("note_{i}"), Value::from(*part));
            }
        }
    }
    json!({"model": "reasoning", "messages": messages, "tools": tools, "metadata": metadata, "stop": ["\n\n"]})
}

/// `iters` timings of `f`, after a short warm-up.
fn sample(iters: usize, mut f: impl FnMut()) -> Vec<Duration> {
    for _ in 0..iters / 10 + 1 {
        f();
    }
    let mut out = Vec::with_capacity(iters);
    for _ in 0..iters {
        let t = Instant::now();
        f();
        out.push(t.elapsed());
    }
    out.sort();
    out
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i]
}

fn us(d: Duration) -> f64 {
    d.as_secs_f64() * 1e6
}

fn main() {
    let iters: usize = std::env::var("FARMHAND_BENCH_ITERS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(2000);
    let text = request_text(REQUEST_BYTES);
    let parts = split(&text);
    println!(
        "scan bench: {} bytes, one string and {} strings ({} to {} bytes), {} detectors on, {iters} samples each",
        text.len(),
        parts.len(),
        parts.iter().map(|p| p.len()).min().unwrap_or(0),
        parts.iter().map(|p| p.len()).max().unwrap_or(0),
        Detector::ALL.len(),
    );

    // The input must be clean, or the bench times an early exit instead of a full scan.
    let fired: Vec<Detector> = parts
        .iter()
        .chain(std::iter::once(&text.as_str()))
        .filter_map(|p| detect::scan_text(p, DetectorSet::ALL))
        .collect();
    if !fired.is_empty() {
        println!("FAIL: the bench input is not secret-free; fired: {fired:?}");
        std::process::exit(1);
    }

    let floor = sample(iters, || {
        black_box(memchr::memchr(0x01, black_box(text.as_bytes())));
    });
    let one = sample(iters, || {
        black_box(detect::scan_text(black_box(&text), DetectorSet::ALL));
    });
    let many = sample(iters, || {
        for p in &parts {
            black_box(detect::scan_text(black_box(p), DetectorSet::ALL));
        }
    });
    let body = serde_json::to_vec(&request_of(&parts)).unwrap_or_default();
    let parse = sample(iters / 4 + 1, || {
        black_box(serde_json::from_slice::<Value>(black_box(&body)).ok());
    });
    let request: Value = serde_json::from_slice(&body).unwrap_or_default();
    let found = Exposure::of_request(&request, DetectorSet::ALL);
    if found != Exposure::default() {
        println!("FAIL: the bench request is not clean: {found:?}");
        std::process::exit(1);
    }
    let whole = sample(iters, || {
        black_box(Exposure::of_request(black_box(&request), DetectorSet::ALL));
    });

    if std::env::var("FARMHAND_BENCH_PARTS").is_ok() {
        let walk = sample(iters, || {
            black_box(Exposure::of_request(black_box(&request), DetectorSet::NONE));
        });
        println!(
            "  walk alone, no detector on   p50 {:.0} µs",
            us(percentile(&walk, 0.5))
        );
        for d in Detector::ALL {
            let set = DetectorSet::NONE.with(d);
            let t = sample(200, || {
                black_box(detect::scan_text(black_box(&text), set));
            });
            println!("  {d:<20} p50 {:.0} µs", us(percentile(&t, 0.5)));
        }
    }
    if one.is_empty() || many.is_empty() || whole.is_empty() || body.len() < REQUEST_BYTES {
        println!("FAIL: measured nothing");
        std::process::exit(1);
    }
    println!(
        "floor: memchr for an absent byte over 256 KiB, p50: {:.1} µs, p99: {:.1} µs",
        us(percentile(&floor, 0.5)),
        us(percentile(&floor, 0.99))
    );
    println!(
        "parse the {} KiB request body (not budgeted), p50: {:.0} µs",
        body.len() / 1024,
        us(percentile(&parse, 0.5))
    );
    let mut ok = true;
    let shapes = [
        ("one string".to_string(), &one),
        (format!("{} strings", parts.len()), &many),
        (format!("whole request ({} KiB of JSON)", body.len() / 1024), &whole),
    ];
    for (what, samples) in shapes {
        let p50 = percentile(samples, 0.5);
        let p99 = percentile(samples, 0.99);
        let pass = p50 <= BUDGET;
        ok &= pass;
        println!(
            "scan 256 KiB, {what}, p50: {:.0} µs, p99: {:.0} µs (budget p50 {} µs) {}",
            us(p50),
            us(p99),
            BUDGET.as_micros(),
            if pass { "PASS" } else { "FAIL" }
        );
    }
    println!(
        "throughput (one string, p50): {:.2} GB/s",
        text.len() as f64 / percentile(&one, 0.5).as_secs_f64() / 1e9
    );
    if !ok {
        std::process::exit(1);
    }
}
