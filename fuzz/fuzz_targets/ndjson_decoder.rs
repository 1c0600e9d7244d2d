//! The NDJSON splitter (Ollama's streams) never panics, and the same bytes give the same lines
//! (or the same refusal) whether they arrive in one chunk or in many.
#![no_main]

mod split;

use farmhand::wire::NdjsonSplitter;
use libfuzzer_sys::fuzz_target;

/// Lines of the chunks fed in order plus the unterminated tail; `None` once a line is refused.
fn decode(max_line: Option<usize>, chunks: &[&[u8]]) -> Option<Vec<String>> {
    let mut splitter = max_line.map_or_else(NdjsonSplitter::new, NdjsonSplitter::with_max_line);
    let mut lines = Vec::new();
    for chunk in chunks {
        lines.extend(splitter.feed(chunk).ok()?);
    }
    lines.extend(splitter.finish());
    Some(lines)
}

fuzz_target!(|data: &[u8]| {
    let Some(input) = split::split(data) else {
        return;
    };
    let whole = decode(input.max_line, &[input.body]);
    let pieces = decode(input.max_line, &input.chunks);
    assert_eq!(whole, pieces, "chunking changed the outcome: {:?}", input.chunks);
    for line in whole.into_iter().flatten() {
        assert!(!line.trim().is_empty(), "blank lines are skipped");
        assert!(!line.contains('\n'), "a line holds no line end");
    }
});
