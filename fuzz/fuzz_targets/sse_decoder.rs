//! The SSE decoder never panics, and the same bytes give the same events (or the same refusal)
//! whether they arrive in one chunk or in many.
#![no_main]

mod split;

use farmhand::wire::sse::{SseEvent, SseParser};
use libfuzzer_sys::fuzz_target;

fn parser(max_line: Option<usize>) -> SseParser {
    max_line.map_or_else(SseParser::new, SseParser::with_max_line)
}

/// Events of the chunks fed in order; stops at the first refusal, as the gateway's reader does.
fn decode(max_line: Option<usize>, chunks: &[&[u8]]) -> Option<Vec<SseEvent>> {
    let mut parser = parser(max_line);
    let mut events = Vec::new();
    for chunk in chunks {
        events.extend(parser.feed(chunk).ok()?);
    }
    Some(events)
}

fuzz_target!(|data: &[u8]| {
    let Some(input) = split::split(data) else {
        return;
    };
    let whole = decode(input.max_line, &[input.body]);
    let pieces = decode(input.max_line, &input.chunks);
    assert_eq!(whole, pieces, "chunking changed the outcome: {:?}", input.chunks);
    for event in whole.into_iter().flatten() {
        assert!(
            !event.event.unwrap_or_default().contains('\n'),
            "a field value is one line"
        );
        assert!(
            !event.id.unwrap_or_default().contains('\n'),
            "a field value is one line"
        );
    }
});
