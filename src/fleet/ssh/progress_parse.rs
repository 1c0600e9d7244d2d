//! Reading what the real `ollama pull` CLI prints: terminal redraws split into lines, lines into progress.
//!
//! The CLI redraws its whole progress block every 100 ms on stderr, TTY or not: it hides the
//! cursor, moves up to the block's first line (`ESC[A`…, `ESC[1G`), rewrites each line ending in
//! `ESC[K`, and separates lines with `\n`. Layers render as
//! `pulling 8eeb52dfb3bb:  42% ▕████      ▏ 2.0 GB/4.7 GB   25 MB/s   1m48s` while running and
//! `pulling 8eeb52dfb3bb: 100% ▕██████████▏ 4.7 GB` once done; other steps are spinner lines
//! (`pulling manifest ⠋`, `verifying sha256 digest`, `writing manifest`, `success`). Failures
//! end with `Error: …`. Sizes are decimal (1 KB = 1000 B), as Ollama's `format.HumanBytes` prints.

use crate::fleet::PullProgress;

/// Longest line kept before it is cut (a remote that never ends a line cannot exhaust memory).
const MAX_LINE: usize = 16 * 1024;

/// Statuses the Ollama server reports for a pull (first word), used to tell progress from other output.
const STATUS_WORDS: [&str; 6] = ["pulling", "verifying", "writing", "removing", "success", "downloading"];

/// Splits a terminal byte stream into logical lines: `\n`, `\r` and cursor movements end a line,
/// other escape sequences are dropped.
#[derive(Debug, Default)]
pub struct TerminalLines {
    line: Vec<u8>,
    escape: Escape,
}

#[derive(Debug, Default, Clone, PartialEq, Eq)]
enum Escape {
    #[default]
    None,
    /// Just saw ESC.
    Start,
    /// Inside `ESC [ params`.
    Csi(Vec<u8>),
    /// Inside `ESC ] …` until BEL or `ESC \`.
    Osc { saw_esc: bool },
}

impl TerminalLines {
    /// A splitter with nothing buffered.
    pub fn new() -> Self {
        Self::default()
    }

    /// Feeds bytes; returns the lines they completed (non-empty after trimming, lossily decoded).
    pub fn push(&mut self, bytes: &[u8]) -> Vec<String> {
        let mut out = Vec::new();
        for &b in bytes {
            match std::mem::take(&mut self.escape) {
                Escape::None => match b {
                    0x1b => self.escape = Escape::Start,
                    b'\n' | b'\r' => self.end_line(&mut out),
                    _ => {
                        self.line.push(b);
                        if self.line.len() >= MAX_LINE {
                            self.end_line(&mut out);
                        }
                    }
                },
                Escape::Start => match b {
                    b'[' => self.escape = Escape::Csi(Vec::new()),
                    b']' => self.escape = Escape::Osc { saw_esc: false },
                    _ => {} // two-byte escape (ESC 7, ESC =, …): dropped
                },
                Escape::Csi(mut params) => {
                    if (0x40..=0x7e).contains(&b) {
                        if csi_ends_line(b, &params) {
                            self.end_line(&mut out);
                        }
                    } else if params.len() < 32 {
                        params.push(b);
                        self.escape = Escape::Csi(params);
                    } else {
                        self.escape = Escape::Csi(params);
                    }
                }
                Escape::Osc { saw_esc } => {
                    let done = b == 0x07 || (saw_esc && b == b'\\');
                    if !done {
                        self.escape = Escape::Osc { saw_esc: b == 0x1b };
                    }
                }
            }
        }
        out
    }

    /// Returns the last, unterminated line, if any.
    pub fn finish(&mut self) -> Option<String> {
        let mut out = Vec::new();
        self.end_line(&mut out);
        out.pop()
    }

    fn end_line(&mut self, out: &mut Vec<String>) {
        if !self.line.is_empty() {
            let text = String::from_utf8_lossy(&self.line);
            let text = text.trim();
            if !text.is_empty() {
                out.push(text.to_string());
            }
            self.line.clear();
        }
    }
}

/// Cursor movements and whole-line erases start a new line; colours, `ESC[K` and modes do not.
fn csi_ends_line(final_byte: u8, params: &[u8]) -> bool {
    match final_byte {
        b'A' | b'B' | b'E' | b'F' | b'G' | b'H' | b'f' | b'J' => true,
        b'K' => matches!(params, b"1" | b"2"),
        _ => false,
    }
}

/// Parses one line of `ollama pull` output; `None` for anything that is not pull progress
/// (blank lines, `Error: …`, shell noise).
pub fn parse_progress_line(line: &str) -> Option<PullProgress> {
    let line = clean(line);
    if line.is_empty() || line.starts_with("Error") {
        return None;
    }
    let first_word = line.split_whitespace().next()?;
    if !STATUS_WORDS.contains(&first_word) {
        return None;
    }
    match percent_split(&line) {
        Some((status, percent, rest)) => {
            let (completed, total) = sizes(rest, percent);
            Some(PullProgress {
                status,
                completed,
                total,
            })
        }
        None => Some(PullProgress::status(line)),
    }
}

/// Strips escape sequences and spinner glyphs, keeps what a terminal would show last after `\r`.
fn clean(line: &str) -> String {
    let mut lines = TerminalLines::new();
    let mut parts = lines.push(line.as_bytes());
    parts.extend(lines.finish());
    let last = parts.pop().unwrap_or_default();
    let no_spinner: String = last
        .chars()
        .filter(|c| !('\u{2800}'..='\u{28ff}').contains(c))
        .collect();
    no_spinner.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// Splits `pulling abc: 42% ▕██▏ 2.0 GB/4.7 GB …` into (`pulling abc`, 42.0, `2.0 GB/4.7 GB …`).
fn percent_split(line: &str) -> Option<(String, f64, &str)> {
    let pct_at = line.find('%')?;
    let before = &line[..pct_at];
    let number_start = before
        .rfind(|c: char| !(c.is_ascii_digit() || c == '.'))
        .map_or(0, |i| i + 1);
    let percent: f64 = before[number_start..].parse().ok()?;
    let status = before[..number_start]
        .trim()
        .trim_end_matches("...")
        .trim_end_matches(':')
        .trim();
    if status.is_empty() {
        return None;
    }
    let after = &line[pct_at + 1..];
    let rest = match after.find('▏') {
        Some(i) => &after[i + '▏'.len_utf8()..],
        None => after.trim_start().trim_start_matches('▕'),
    };
    Some((status.to_string(), percent, rest))
}

/// Reads `2.0 GB/4.7 GB` (running) or `4.7 GB` (done) after the bar; rate and ETA are ignored.
fn sizes(rest: &str, percent: f64) -> (Option<u64>, Option<u64>) {
    let spaced = rest.replace('/', " / ").replace(['(', ')', ','], " ");
    let tokens: Vec<&str> = spaced.split_whitespace().collect();
    let size_at = |i: usize| -> Option<u64> { bytes(tokens.get(i)?, tokens.get(i + 1)?) };
    let Some(first) = size_at(0) else {
        return (None, None);
    };
    if tokens.get(2) == Some(&"/")
        && let Some(total) = size_at(3)
    {
        return (Some(first.min(total)), Some(total));
    }
    let completed = if percent >= 100.0 {
        first
    } else {
        (first as f64 * percent.clamp(0.0, 100.0) / 100.0).round() as u64
    };
    (Some(completed), Some(first))
}

/// `4.7` `GB` → 4_700_000_000; decimal units as Ollama prints them, binary ones accepted too.
fn bytes(number: &str, unit: &str) -> Option<u64> {
    let value: f64 = number.parse().ok()?;
    let scale: f64 = match unit {
        "B" => 1.0,
        "KB" | "kB" => 1e3,
        "MB" => 1e6,
        "GB" => 1e9,
        "TB" => 1e12,
        "KiB" => 1024.0,
        "MiB" => 1024.0 * 1024.0,
        "GiB" => 1024.0 * 1024.0 * 1024.0,
        "TiB" => 1024.0 * 1024.0 * 1024.0 * 1024.0,
        _ => return None,
    };
    (value.is_finite() && value >= 0.0).then(|| (value * scale).round() as u64)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn progress(status: &str, completed: Option<u64>, total: Option<u64>) -> Option<PullProgress> {
        Some(PullProgress {
            status: status.into(),
            completed,
            total,
        })
    }

    #[test]
    fn running_bar_gives_both_sizes() {
        let line = "pulling 8eeb52dfb3bb:  42% ▕██████          ▏ 2.0 GB/4.7 GB   25 MB/s   1m48s";
        assert_eq!(
            parse_progress_line(line),
            progress("pulling 8eeb52dfb3bb", Some(2_000_000_000), Some(4_700_000_000))
        );
    }

    #[test]
    fn finished_bar_gives_the_total_only_so_completed_is_total() {
        let line = "pulling 8eeb52dfb3bb: 100% ▕████████████████▏ 4.7 GB                         ";
        assert_eq!(
            parse_progress_line(line),
            progress("pulling 8eeb52dfb3bb", Some(4_700_000_000), Some(4_700_000_000))
        );
    }

    #[test]
    fn small_layers_and_every_unit() {
        let cases = [
            ("pulling 62fbfd9ed093: 100% ▕██▏  182 B", 182, 182),
            ("pulling c71d239df917:  50% ▕█ ▏ 5.7 KB/11 KB", 5_700, 11_000),
            ("pulling 1ff5b64b61b9: 100% ▕██▏  487 MB", 487_000_000, 487_000_000),
            (
                "pulling aaaaaaaaaaaa:   1% ▕  ▏  12 GB/1.2 TB   99 MB/s  3h21m",
                12_000_000_000,
                1_200_000_000_000,
            ),
        ];
        for (line, completed, total) in cases {
            let p = parse_progress_line(line).unwrap_or_else(|| panic!("{line}"));
            assert_eq!((p.completed, p.total), (Some(completed), Some(total)), "{line}");
        }
    }

    #[test]
    fn older_cli_formats() {
        let old = "pulling 8eeb52dfb3bb... 42% ▕██    ▏ (2.0 GB/4.7 GB, 25 MB/s, 1m48s)";
        assert_eq!(
            parse_progress_line(old),
            progress("pulling 8eeb52dfb3bb", Some(2_000_000_000), Some(4_700_000_000))
        );
    }

    #[test]
    fn spinner_lines_are_status_only() {
        assert_eq!(
            parse_progress_line("pulling manifest ⠋ "),
            progress("pulling manifest", None, None)
        );
        assert_eq!(
            parse_progress_line("pulling manifest"),
            progress("pulling manifest", None, None)
        );
        assert_eq!(
            parse_progress_line("verifying sha256 digest ⠹"),
            progress("verifying sha256 digest", None, None)
        );
        assert_eq!(
            parse_progress_line("writing manifest"),
            progress("writing manifest", None, None)
        );
        assert_eq!(parse_progress_line("success "), progress("success", None, None));
    }

    #[test]
    fn escapes_and_carriage_returns_are_handled() {
        let line = "\x1b[?25l\x1b[1Gpulling abcdefabcdef:  10% ▕█  ▏ 470 MB/4.7 GB\x1b[K\x1b[?25h";
        assert_eq!(
            parse_progress_line(line),
            progress("pulling abcdefabcdef", Some(470_000_000), Some(4_700_000_000))
        );
        assert_eq!(
            parse_progress_line("junk\rwriting manifest"),
            progress("writing manifest", None, None)
        );
    }

    #[test]
    fn non_progress_is_none() {
        for line in [
            "",
            "   ",
            "Error: pull model manifest: file does not exist",
            "bash: line 1: ollama: command not found",
            "\x1b[?25h",
        ] {
            assert_eq!(parse_progress_line(line), None, "{line:?}");
        }
    }

    #[test]
    fn redraw_frames_split_into_lines() {
        let mut lines = TerminalLines::new();
        let frame1 = "\x1b[?2026h\x1b[?25l\x1b[1Gpulling manifest ⠋ \x1b[K\x1b[?25h\x1b[?2026l";
        let frame2 = "\x1b[?2026h\x1b[?25l\x1b[1Gpulling manifest \x1b[K\npulling 8eeb52dfb3bb:  10% ▕▏ 470 MB/4.7 GB\x1b[K\x1b[?25h\x1b[?2026l";
        let frame3 = "\x1b[?2026h\x1b[?25l\x1b[A\x1b[1Gpulling manifest \x1b[K\npulling 8eeb52dfb3bb: 100% ▕▏ 4.7 GB\x1b[K\x1b[?25h\x1b[?2026l\n";
        let mut got = Vec::new();
        // Feed in awkward pieces: escapes and UTF-8 split across reads.
        let all = [frame1, frame2, frame3].concat();
        for chunk in all.as_bytes().chunks(7) {
            got.extend(lines.push(chunk));
        }
        got.extend(lines.finish());
        assert_eq!(
            got,
            [
                "pulling manifest ⠋",
                "pulling manifest",
                "pulling 8eeb52dfb3bb:  10% ▕▏ 470 MB/4.7 GB",
                "pulling manifest",
                "pulling 8eeb52dfb3bb: 100% ▕▏ 4.7 GB",
            ]
        );
    }

    #[test]
    fn pty_line_endings_and_unterminated_tail() {
        let mut lines = TerminalLines::new();
        assert_eq!(lines.push(b"success\r\nError: boom"), ["success"]);
        assert_eq!(lines.finish().as_deref(), Some("Error: boom"));
        assert_eq!(lines.finish(), None);
    }

    #[test]
    fn endless_line_is_cut() {
        let mut lines = TerminalLines::new();
        let got = lines.push(&vec![b'x'; MAX_LINE * 2 + 5]);
        assert_eq!(got.len(), 2);
        assert_eq!(lines.finish().map(|l| l.len()), Some(5));
    }
}
