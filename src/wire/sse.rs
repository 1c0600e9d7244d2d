//! An incremental Server-Sent Events parser: feed it bytes as they arrive, get whole events out.
//!
//! Events end at a blank line (`\n\n` or `\r\n\r\n`); several `data:` lines join with `\n`;
//! lines starting with `:` are comments. A lone `\r` is not treated as a line end.

/// One dispatched event.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SseEvent {
    /// The `event:` name, if any.
    pub event: Option<String>,
    /// The data lines joined with `\n`.
    pub data: String,
    /// The `id:` value, if any.
    pub id: Option<String>,
}

impl SseEvent {
    /// True for OpenAI's end-of-stream marker `data: [DONE]`.
    pub fn is_done(&self) -> bool {
        self.data == crate::wire::openai::DONE
    }
}

/// A line longer than the parser's limit: the peer is not speaking SSE.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("stream line longer than {limit} bytes")]
pub struct LineTooLong {
    /// The limit that was exceeded.
    pub limit: usize,
}

/// The default longest line accepted (1 MiB).
pub const DEFAULT_MAX_LINE: usize = 1 << 20;

/// Splits a byte stream into lines, keeping the unfinished tail; shared by SSE and NDJSON.
#[derive(Debug, Clone)]
pub(crate) struct LineBuffer {
    buf: Vec<u8>,
    max_line: usize,
}

impl LineBuffer {
    pub(crate) fn new(max_line: usize) -> Self {
        LineBuffer {
            buf: Vec::new(),
            max_line,
        }
    }

    /// Appends bytes and returns every completed line, without its `\n` or `\r\n`.
    ///
    /// A line longer than the limit (its line end not counted) is refused however the bytes
    /// were split: whether it came whole in one read or was held back as an unfinished tail.
    pub(crate) fn feed(&mut self, bytes: &[u8]) -> Result<Vec<String>, LineTooLong> {
        self.buf.extend_from_slice(bytes);
        let mut lines = Vec::new();
        let mut start = 0;
        while let Some(pos) = self.buf[start..].iter().position(|&b| b == b'\n') {
            let end = start + pos;
            let line = &self.buf[start..end];
            let line = line.strip_suffix(b"\r").unwrap_or(line);
            if line.len() > self.max_line {
                return Err(self.refuse());
            }
            lines.push(String::from_utf8_lossy(line).into_owned());
            start = end + 1;
        }
        self.buf.drain(..start);
        // A trailing `\r` may be the start of this line's `\r\n`.
        let tail = self.buf.strip_suffix(b"\r").unwrap_or(&self.buf);
        if tail.len() > self.max_line {
            return Err(self.refuse());
        }
        Ok(lines)
    }

    fn refuse(&mut self) -> LineTooLong {
        self.buf.clear();
        LineTooLong { limit: self.max_line }
    }

    /// The unfinished tail, taken out of the buffer.
    pub(crate) fn take_rest(&mut self) -> String {
        let rest = String::from_utf8_lossy(&self.buf).into_owned();
        self.buf.clear();
        rest
    }
}

/// Incremental SSE parser.
#[derive(Debug, Clone)]
pub struct SseParser {
    lines: LineBuffer,
    event: Option<String>,
    id: Option<String>,
    data: Vec<String>,
}

impl Default for SseParser {
    fn default() -> Self {
        SseParser::new()
    }
}

impl SseParser {
    /// A parser with the default line limit.
    pub fn new() -> Self {
        SseParser::with_max_line(DEFAULT_MAX_LINE)
    }

    /// A parser refusing lines longer than `max_line` bytes.
    pub fn with_max_line(max_line: usize) -> Self {
        SseParser {
            lines: LineBuffer::new(max_line),
            event: None,
            id: None,
            data: Vec::new(),
        }
    }

    /// Feeds bytes; returns the events completed by them (possibly none).
    pub fn feed(&mut self, bytes: &[u8]) -> Result<Vec<SseEvent>, LineTooLong> {
        let mut events = Vec::new();
        for line in self.lines.feed(bytes)? {
            if line.is_empty() {
                if let Some(event) = self.dispatch() {
                    events.push(event);
                }
                continue;
            }
            if line.starts_with(':') {
                continue;
            }
            let (field, value) = match line.split_once(':') {
                Some((field, value)) => (field, value.strip_prefix(' ').unwrap_or(value)),
                None => (line.as_str(), ""),
            };
            match field {
                "data" => self.data.push(value.to_string()),
                "event" => self.event = Some(value.to_string()),
                "id" => self.id = Some(value.to_string()),
                _ => {}
            }
        }
        Ok(events)
    }

    fn dispatch(&mut self) -> Option<SseEvent> {
        let event = self.event.take();
        let id = self.id.take();
        if self.data.is_empty() {
            return None;
        }
        let data = std::mem::take(&mut self.data).join("\n");
        Some(SseEvent { event, data, id })
    }
}

/// Encodes one SSE event (`event:` line only when named), ending with the blank line.
pub fn encode_event(event: Option<&str>, data: &str) -> String {
    let mut out = String::with_capacity(data.len() + 32);
    if let Some(name) = event {
        out.push_str("event: ");
        out.push_str(name);
        out.push('\n');
    }
    for line in data.split('\n') {
        out.push_str("data: ");
        out.push_str(line);
        out.push('\n');
    }
    out.push('\n');
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn feed_in_pieces(input: &[u8], piece: usize) -> Vec<SseEvent> {
        let mut parser = SseParser::new();
        input
            .chunks(piece)
            .flat_map(|chunk| parser.feed(chunk).unwrap())
            .collect()
    }

    #[test]
    fn events_survive_any_chunking() {
        let input = b"event: message_start\ndata: {\"a\":1}\n\n: keep-alive comment\n\ndata: line one\ndata: line two\n\ndata: [DONE]\n\n";
        let whole = feed_in_pieces(input, input.len());
        assert_eq!(whole.len(), 3);
        assert_eq!(
            whole[0],
            SseEvent {
                event: Some("message_start".into()),
                data: "{\"a\":1}".into(),
                id: None
            }
        );
        assert_eq!(whole[1].data, "line one\nline two");
        assert!(whole[2].is_done());
        for piece in 1..input.len() {
            assert_eq!(feed_in_pieces(input, piece), whole, "piece size {piece}");
        }
    }

    #[test]
    fn crlf_line_ends_split_between_cr_and_lf() {
        let input = b"event: ping\r\ndata: {}\r\n\r\ndata:no-space\r\n\r\n";
        for piece in 1..input.len() {
            let events = feed_in_pieces(input, piece);
            assert_eq!(events.len(), 2, "piece size {piece}");
            assert_eq!(events[0].event.as_deref(), Some("ping"));
            assert_eq!(events[1].data, "no-space");
        }
    }

    #[test]
    fn unfinished_event_is_held_back() {
        let mut parser = SseParser::new();
        assert!(parser.feed(b"data: partial").unwrap().is_empty());
        assert!(parser.feed(b"\n").unwrap().is_empty());
        assert_eq!(parser.feed(b"\n").unwrap()[0].data, "partial");
    }

    #[test]
    fn overlong_lines_are_refused() {
        let mut parser = SseParser::with_max_line(8);
        assert_eq!(parser.feed(b"data: 0123456789").unwrap_err(), LineTooLong { limit: 8 });
    }

    #[test]
    fn overlong_lines_are_refused_however_they_are_split() {
        // Found by the `sse_decoder` fuzz target: a long line that arrived whole with its line
        // end was accepted, the same line split across reads was refused.
        let long = b"data: 0123456789\n\n";
        for piece in 1..=long.len() {
            let mut parser = SseParser::with_max_line(8);
            let refused = long.chunks(piece).any(|chunk| parser.feed(chunk).is_err());
            assert!(refused, "piece size {piece}");
        }
        // Exactly at the limit, `\r\n` not counted, even when split between `\r` and `\n`.
        let at_limit = b"data: ab\r\n\r\n";
        for piece in 1..=at_limit.len() {
            assert_eq!(
                feed_in_pieces_with_limit(at_limit, piece, 8).unwrap()[0].data,
                "ab",
                "piece size {piece}"
            );
        }
    }

    fn feed_in_pieces_with_limit(input: &[u8], piece: usize, max_line: usize) -> Result<Vec<SseEvent>, LineTooLong> {
        let mut parser = SseParser::with_max_line(max_line);
        let mut events = Vec::new();
        for chunk in input.chunks(piece) {
            events.extend(parser.feed(chunk)?);
        }
        Ok(events)
    }

    #[test]
    fn encode_round_trips() {
        let text = encode_event(Some("message_stop"), "{\"type\":\"message_stop\"}") + &encode_event(None, "a\nb");
        let events = SseParser::new().feed(text.as_bytes()).unwrap();
        assert_eq!(events[0].event.as_deref(), Some("message_stop"));
        assert_eq!(events[1].data, "a\nb");
    }
}
