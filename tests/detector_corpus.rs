//! Detector corpus: `tests/corpus/detectors/<name>.txt` holds, for every detector, realistic
//! positives (`+ `, must fire that detector with only it enabled) and near-miss negatives
//! (`- `, must fire nothing with every detector enabled). Escapes: `\n` newline, `\t` tab,
//! `\\` backslash; `#` lines are comments.
//!
//! Every failing case is reported by file and line; per-detector and total figures are printed
//! (`cargo test --test detector_corpus -- --nocapture`).

use std::path::{Path, PathBuf};

use farmhand::router::detect::scan_text;
use farmhand::router::{Detector, DetectorSet};

/// Each detector's corpus holds at least this many positives and this many negatives.
const MIN_CASES: usize = 20;

struct Case {
    line: usize,
    positive: bool,
    text: String,
}

fn corpus_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/corpus/detectors")
}

fn unescape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut chars = s.chars();
    while let Some(c) = chars.next() {
        if c != '\\' {
            out.push(c);
            continue;
        }
        match chars.next() {
            Some('n') => out.push('\n'),
            Some('t') => out.push('\t'),
            Some('\\') => out.push('\\'),
            Some(other) => {
                out.push('\\');
                out.push(other);
            }
            None => out.push('\\'),
        }
    }
    out
}

fn read_cases(path: &Path) -> Result<Vec<Case>, String> {
    let text = std::fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))?;
    let mut cases = Vec::new();
    for (i, raw) in text.lines().enumerate() {
        if raw.trim().is_empty() || raw.starts_with('#') {
            continue;
        }
        let (positive, body) = if let Some(b) = raw.strip_prefix("+ ") {
            (true, b)
        } else if let Some(b) = raw.strip_prefix("- ") {
            (false, b)
        } else {
            return Err(format!("{}:{}: a case starts with `+ ` or `- `", path.display(), i + 1));
        };
        cases.push(Case {
            line: i + 1,
            positive,
            text: unescape(body),
        });
    }
    Ok(cases)
}

#[test]
fn every_detector_finds_its_positives_and_nothing_fires_on_negatives() {
    let dir = corpus_dir();
    let mut failures = Vec::new();
    let (mut positives, mut found, mut negatives, mut false_positives) = (0, 0, 0, 0);
    println!(
        "{:<18} {:>9} {:>7} {:>9} {:>4}",
        "detector", "positives", "recall", "negatives", "FP"
    );
    for detector in Detector::ALL {
        let path = dir.join(format!("{}.txt", detector.name()));
        let file = format!("tests/corpus/detectors/{}.txt", detector.name());
        let cases = match read_cases(&path) {
            Ok(cases) => cases,
            Err(e) => {
                failures.push(e);
                continue;
            }
        };
        let (mut pos, mut hit, mut neg, mut fp) = (0, 0, 0, 0);
        for case in &cases {
            if case.positive {
                pos += 1;
                if detector.fires_on(&case.text) {
                    hit += 1;
                } else {
                    failures.push(format!("{file}:{}: {detector} missed: {:?}", case.line, case.text));
                }
            } else {
                neg += 1;
                if let Some(fired) = scan_text(&case.text, DetectorSet::ALL) {
                    fp += 1;
                    failures.push(format!(
                        "{file}:{}: {fired} fired on a negative: {:?}",
                        case.line, case.text
                    ));
                }
            }
        }
        if pos < MIN_CASES || neg < MIN_CASES {
            failures.push(format!(
                "{file}: {pos} positives and {neg} negatives; at least {MIN_CASES} of each"
            ));
        }
        println!(
            "{:<18} {:>9} {:>6.1}% {:>9} {:>4}",
            detector.name(),
            pos,
            100.0 * hit as f64 / pos.max(1) as f64,
            neg,
            fp
        );
        positives += pos;
        found += hit;
        negatives += neg;
        false_positives += fp;
    }
    println!(
        "detector corpus: {} detectors, {positives} positives, recall {:.1} %; {negatives} negatives, {false_positives} false positives",
        Detector::ALL.len(),
        100.0 * found as f64 / positives.max(1) as f64
    );
    assert!(
        failures.is_empty(),
        "{} corpus failures:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

#[test]
fn scan_text_agrees_with_fires_on() {
    // The answer with everything on is the first detector, in ALL order, that fires alone.
    for detector in Detector::ALL {
        let path = corpus_dir().join(format!("{}.txt", detector.name()));
        for case in read_cases(&path).unwrap_or_default() {
            let alone = Detector::ALL.into_iter().find(|d| d.fires_on(&case.text));
            assert_eq!(
                scan_text(&case.text, DetectorSet::ALL),
                alone,
                "{}.txt:{}",
                detector.name(),
                case.line
            );
        }
    }
}
