//! An incremental NDJSON line splitter for Ollama's streams: feed bytes, get whole lines out.

use crate::wire::sse::{DEFAULT_MAX_LINE, LineBuffer, LineTooLong};

/// Splits a byte stream into non-empty lines, one JSON object each.
#[derive(Debug, Clone)]
pub struct NdjsonSplitter {
    lines: LineBuffer,
}

impl Default for NdjsonSplitter {
    fn default() -> Self {
        NdjsonSplitter::new()
    }
}

impl NdjsonSplitter {
    /// A splitter with the default line limit (1 MiB).
    pub fn new() -> Self {
        NdjsonSplitter::with_max_line(DEFAULT_MAX_LINE)
    }

    /// A splitter refusing lines longer than `max_line` bytes.
    pub fn with_max_line(max_line: usize) -> Self {
        NdjsonSplitter {
            lines: LineBuffer::new(max_line),
        }
    }

    /// Feeds bytes; returns the complete, non-blank lines they finish.
    pub fn feed(&mut self, bytes: &[u8]) -> Result<Vec<String>, LineTooLong> {
        Ok(self
            .lines
            .feed(bytes)?
            .into_iter()
            .filter(|l| !l.trim().is_empty())
            .collect())
    }

    /// At end of stream: the last line if it had no trailing newline.
    pub fn finish(&mut self) -> Option<String> {
        let rest = self.lines.take_rest();
        (!rest.trim().is_empty()).then_some(rest)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_survive_any_chunking() {
        let input = b"{\"status\":\"pulling manifest\"}\n\n{\"status\":\"success\"}\r\n{\"error\":\"x\"}";
        for piece in 1..=input.len() {
            let mut splitter = NdjsonSplitter::new();
            let mut lines: Vec<String> = input.chunks(piece).flat_map(|c| splitter.feed(c).unwrap()).collect();
            lines.extend(splitter.finish());
            assert_eq!(
                lines,
                [
                    "{\"status\":\"pulling manifest\"}",
                    "{\"status\":\"success\"}",
                    "{\"error\":\"x\"}"
                ],
                "piece {piece}"
            );
        }
    }

    #[test]
    fn overlong_lines_are_refused_however_they_arrive() {
        let input = b"{\"status\":\"pulling manifest\"}\n";
        for piece in 1..=input.len() {
            let mut splitter = NdjsonSplitter::with_max_line(16);
            assert!(input.chunks(piece).any(|c| splitter.feed(c).is_err()), "piece {piece}");
        }
    }

    #[test]
    fn finish_is_empty_after_a_trailing_newline() {
        let mut splitter = NdjsonSplitter::new();
        assert_eq!(splitter.feed(b"{}\n").unwrap(), ["{}"]);
        assert_eq!(splitter.finish(), None);
    }
}
