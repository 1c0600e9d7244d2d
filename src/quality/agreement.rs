//! How far two answers to the same request agree, as a score in [0, 1], by the method their
//! shape calls for: exact match after normalisation for short label-like answers, field-level
//! agreement for JSON, token-set F1 for free text. Pure: the texts never leave memory.

use std::collections::{BTreeMap, HashSet};

use serde::Serialize;
use serde_json::Value;

use crate::domain::TaskClass;

/// Answers this short (in words, and in characters) are compared as labels.
const LABEL_WORDS: usize = 5;
const LABEL_CHARS: usize = 48;

/// How a pair of answers was compared.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AgreementMethod {
    /// Equal after normalisation (1) or not (0).
    Exact,
    /// The share of JSON leaf paths on which both answers hold the same value.
    JsonFields,
    /// F1 of the two answers' sets of words.
    TokenF1,
}

impl AgreementMethod {
    /// The name stored with each sample.
    pub fn as_str(self) -> &'static str {
        match self {
            AgreementMethod::Exact => "exact",
            AgreementMethod::JsonFields => "json_fields",
            AgreementMethod::TokenF1 => "token_f1",
        }
    }
}

/// The agreement of answers `a` and `b`, and the method that measured it.
pub fn agreement(a: &str, b: &str) -> (AgreementMethod, f64) {
    if let (Some(x), Some(y)) = (structured(a), structured(b)) {
        return (AgreementMethod::JsonFields, json_fields(&x, &y));
    }
    let (na, nb) = (normalise(a), normalise(b));
    if is_label(&na) && is_label(&nb) {
        return (AgreementMethod::Exact, f64::from(u8::from(na == nb)));
    }
    (AgreementMethod::TokenF1, token_f1(&na, &nb))
}

/// A JSON object or array (a bare string or number is text).
fn structured(text: &str) -> Option<Value> {
    serde_json::from_str::<Value>(text.trim())
        .ok()
        .filter(|v| v.is_object() || v.is_array())
}

/// Lowercase, words only, single spaces: `"Spam!"` and `spam` are the same label.
fn normalise(text: &str) -> String {
    text.split(|c: char| !c.is_alphanumeric())
        .filter(|w| !w.is_empty())
        .map(str::to_lowercase)
        .collect::<Vec<_>>()
        .join(" ")
}

fn is_label(normalised: &str) -> bool {
    normalised.split(' ').count() <= LABEL_WORDS && normalised.chars().count() <= LABEL_CHARS
}

fn token_f1(a: &str, b: &str) -> f64 {
    let set = |s: &str| -> HashSet<String> { s.split(' ').filter(|w| !w.is_empty()).map(String::from).collect() };
    let (x, y) = (set(a), set(b));
    if x.is_empty() && y.is_empty() {
        return 1.0;
    }
    let common = x.intersection(&y).count() as f64;
    if common == 0.0 {
        return 0.0;
    }
    let precision = common / x.len() as f64;
    let recall = common / y.len() as f64;
    2.0 * precision * recall / (precision + recall)
}

/// Leaf paths (`/items/0/label`) and their values, strings normalised.
fn leaves(value: &Value, path: String, out: &mut BTreeMap<String, Value>) {
    match value {
        Value::Object(map) => {
            for (key, v) in map {
                leaves(v, format!("{path}/{key}"), out);
            }
        }
        Value::Array(items) => {
            for (i, v) in items.iter().enumerate() {
                leaves(v, format!("{path}/{i}"), out);
            }
        }
        Value::String(s) => {
            out.insert(path, Value::String(normalise(s)));
        }
        other => {
            out.insert(path, other.clone());
        }
    }
}

fn json_fields(a: &Value, b: &Value) -> f64 {
    let (mut x, mut y) = (BTreeMap::new(), BTreeMap::new());
    leaves(a, String::new(), &mut x);
    leaves(b, String::new(), &mut y);
    let paths: HashSet<&String> = x.keys().chain(y.keys()).collect();
    if paths.is_empty() {
        return 1.0;
    }
    let same = paths
        .iter()
        .filter(|p| match (x.get(**p), y.get(**p)) {
            (Some(Value::Number(m)), Some(Value::Number(n))) => m.as_f64() == n.as_f64(),
            (Some(u), Some(v)) => u == v,
            _ => false,
        })
        .count();
    same as f64 / paths.len() as f64
}

/// Shadow agreement of one class and route (the route that answered the agent) over a window.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct AgreementRow {
    /// The effective task class.
    pub class: TaskClass,
    /// The route that answered the agent.
    pub route: String,
    /// Samples.
    pub n: i64,
    /// Mean score.
    pub mean: f64,
    /// Mean of the squared scores (for the confidence interval).
    pub mean_square: f64,
}

impl AgreementRow {
    /// The 95 % confidence interval of the mean (normal approximation, clamped to [0, 1]).
    pub fn interval(&self) -> (f64, f64) {
        if self.n < 2 {
            return (0.0, 1.0);
        }
        let n = self.n as f64;
        let variance = ((self.mean_square - self.mean * self.mean) * n / (n - 1.0)).max(0.0);
        let half = 1.96 * (variance / n).sqrt();
        ((self.mean - half).max(0.0), (self.mean + half).min(1.0))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn labels_match_exactly_after_normalisation() {
        assert_eq!(agreement("Spam!", " spam\n"), (AgreementMethod::Exact, 1.0));
        assert_eq!(agreement("spam", "ham"), (AgreementMethod::Exact, 0.0));
        assert_eq!(
            agreement("Billing issue", "billing  ISSUE."),
            (AgreementMethod::Exact, 1.0)
        );
    }

    #[test]
    fn json_answers_agree_field_by_field() {
        let (method, score) = agreement(
            r#"{"label": "Spam", "confidence": 0.9, "tags": ["a", "b"]}"#,
            r#"{"label": "spam", "confidence": 0.7, "tags": ["a", "c"]}"#,
        );
        assert_eq!(method, AgreementMethod::JsonFields);
        assert!((score - 0.5).abs() < 1e-9, "label and tags/0 of four paths: {score}");
        assert_eq!(agreement(r#"{"a": 1}"#, r#"{"a": 1.0}"#).1, 1.0);
        assert_eq!(agreement(r#"{"a": 1}"#, r#"{"b": 1}"#).1, 0.0);
    }

    #[test]
    fn free_text_is_scored_by_word_overlap() {
        let (method, score) = agreement(
            "The printer on floor three is out of toner and needs a new cartridge.",
            "Floor three's printer needs a new toner cartridge.",
        );
        assert_eq!(method, AgreementMethod::TokenF1);
        assert!(score > 0.5 && score < 1.0, "{score}");
        assert_eq!(
            agreement("one two three four five six", "seven eight nine ten eleven twelve").1,
            0.0
        );
        assert_eq!(
            agreement("same words in some order here ok", "ok here order some in words same").1,
            1.0
        );
    }

    #[test]
    fn a_json_answer_against_prose_is_text() {
        let (method, _) = agreement(r#"{"label": "spam"}"#, "It is spam, clearly, because of the links.");
        assert_eq!(method, AgreementMethod::TokenF1);
    }
}
