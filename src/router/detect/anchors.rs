//! The anchor pass: one Aho-Corasick search over every literal a detector keys on, built once
//! per process. Each hit is handed to the detectors that own that literal, which check the
//! bytes around it in bounded time.
//!
//! Labels (`password`, `passport`, …) are matched as written, in UPPER case and Capitalised —
//! how they appear in prose, env files, JSON and camelCase names (`dbPassword`) — instead of
//! ASCII-case-insensitively, which keeps the automaton on its SIMD prefilter.
//!
//! Anchors never overlap each other, so the leftmost-first, non-overlapping search loses none:
//! where one literal contains another (`_authToken` ⊃ `Token`) the longer one lists the
//! shorter one's owners too.

use std::sync::LazyLock;

use aho_corasick::{AhoCorasick, AhoCorasickKind, MatchKind};

use super::{
    Detector, DetectorSet, Hits, ai_providers, assignments, cloud, code_hosts, date_of_birth, jwt, messaging,
    national_id, passport, payments, private_key, registries, url_credentials,
};

/// Checks the bytes around an anchor hit at `start..end`.
type Verify = fn(bytes: &[u8], start: usize, end: usize) -> bool;

/// How an anchor's literal is matched.
#[derive(Clone, Copy)]
enum Case {
    /// Exactly as written.
    Exact,
    /// As written, UPPER case and Capitalised (the literal is written in lower case).
    Label,
}

/// A literal and the detectors that own it.
struct Anchor {
    literal: &'static str,
    case: Case,
    owners: &'static [(Detector, Verify)],
}

const fn exact(literal: &'static str, owners: &'static [(Detector, Verify)]) -> Anchor {
    Anchor {
        literal,
        case: Case::Exact,
        owners,
    }
}

const fn label(literal: &'static str, owners: &'static [(Detector, Verify)]) -> Anchor {
    Anchor {
        literal,
        case: Case::Label,
        owners,
    }
}

use Detector as D;

const SECRET_NAME: &[(Detector, Verify)] = &[(D::SecretAssignment, assignments::secret_assignment)];
const AWS_ID: &[(Detector, Verify)] = &[(D::Aws, cloud::aws_key_id)];
const GITHUB: &[(Detector, Verify)] = &[(D::Github, code_hosts::github)];
const GITLAB: &[(Detector, Verify)] = &[(D::Gitlab, code_hosts::gitlab)];
const STRIPE: &[(Detector, Verify)] = &[(D::Stripe, payments::stripe)];
const DOB: &[(Detector, Verify)] = &[(D::DateOfBirth, date_of_birth::labelled)];
const PASSPORT: &[(Detector, Verify)] = &[(D::Passport, passport::labelled)];
const SSN: &[(Detector, Verify)] = &[(D::NationalId, national_id::labelled_ssn)];

/// Every anchor. Keep literals from overlapping one another (see the module docs).
const ANCHORS: &[Anchor] = &[
    // Private keys.
    exact("-----BEGIN ", &[(D::PrivateKey, private_key::pem)]),
    exact(
        "BEGIN SSH2 ENCRYPTED PRIVATE KEY",
        &[(D::PrivateKey, private_key::ssh2)],
    ),
    exact("PuTTY-User-Key-File-", &[(D::PrivateKey, private_key::putty)]),
    exact("b3BlbnNzaC1rZXktdjE", &[(D::PrivateKey, private_key::openssh_body)]),
    // Vendor token prefixes.
    exact("sk-", &[(D::ApiKey, ai_providers::openai_anthropic)]),
    exact("hf_", &[(D::Huggingface, ai_providers::huggingface)]),
    exact("eyJ", &[(D::Jwt, jwt::jwt)]),
    exact("ghp_", GITHUB),
    exact("gho_", GITHUB),
    exact("ghu_", GITHUB),
    exact("ghs_", GITHUB),
    exact("ghr_", GITHUB),
    exact("github_pat_", GITHUB),
    exact("glpat-", GITLAB),
    exact("gldt-", GITLAB),
    exact("glrt-", GITLAB),
    exact("glptt-", GITLAB),
    exact("gloas-", GITLAB),
    exact("glcbt-", GITLAB),
    exact("glft-", GITLAB),
    exact("glimt-", GITLAB),
    exact("glsoat-", GITLAB),
    exact("GR1348941", GITLAB),
    exact("xox", &[(D::Slack, messaging::slack_token)]),
    exact("xapp-", &[(D::Slack, messaging::slack_app_token)]),
    exact("hooks.slack.com/", &[(D::Slack, messaging::slack_webhook)]),
    exact("SG.", &[(D::Sendgrid, messaging::sendgrid)]),
    exact("AC", &[(D::Twilio, messaging::twilio_sid)]),
    exact("SK", &[(D::Twilio, messaging::twilio_sid)]),
    label("twilio", &[(D::Twilio, messaging::twilio_auth_token)]),
    exact("sk_live_", STRIPE),
    exact("sk_test_", STRIPE),
    exact("rk_live_", STRIPE),
    exact("rk_test_", STRIPE),
    exact("whsec_", STRIPE),
    exact("AIza", &[(D::GoogleApiKey, cloud::google_api_key)]),
    exact("AKIA", AWS_ID),
    exact("ASIA", AWS_ID),
    exact("AGPA", AWS_ID),
    exact("AIDA", AWS_ID),
    exact("AROA", AWS_ID),
    exact("AIPA", AWS_ID),
    exact("ANPA", AWS_ID),
    exact("ANVA", AWS_ID),
    exact("APKA", AWS_ID),
    exact("ABIA", AWS_ID),
    exact("==", &[(D::Azure, cloud::azure_storage_key)]),
    exact("SharedAccessKey=", &[(D::Azure, cloud::azure_shared_access_key)]),
    exact("sig=", &[(D::Azure, cloud::azure_sas)]),
    exact("tskey-", &[(D::Tailscale, cloud::tailscale)]),
    exact("npm_", &[(D::Npm, registries::npm_token)]),
    exact(
        "_authToken",
        &[
            (D::Npm, registries::npmrc_auth),
            (D::SecretAssignment, assignments::secret_assignment),
        ],
    ),
    exact("pypi-AgEIcHlwaS5vcmc", &[(D::Pypi, registries::pypi)]),
    exact("://", &[(D::UrlCredentials, url_credentials::userinfo)]),
    // Names of secrets.
    label(
        "secret",
        &[
            (D::Aws, cloud::aws_secret),
            (D::SecretAssignment, assignments::secret_assignment),
            (D::CredentialFile, assignments::client_secret),
        ],
    ),
    label("password", SECRET_NAME),
    label("passwd", SECRET_NAME),
    label("passphrase", SECRET_NAME),
    label("pwd", SECRET_NAME),
    label("token", SECRET_NAME),
    label("apikey", SECRET_NAME),
    exact("apiKey", SECRET_NAME),
    exact("ApiKey", SECRET_NAME),
    label("api_key", SECRET_NAME),
    label("api-key", SECRET_NAME),
    exact("API-Key", SECRET_NAME),
    label("bearer", &[(D::SecretAssignment, assignments::bearer)]),
    exact("service_account", &[(D::CredentialFile, assignments::service_account)]),
    exact(
        "\"private_key\"",
        &[(D::CredentialFile, assignments::private_key_field)],
    ),
    // Personal data labels.
    label("ssn", SSN),
    label("social security", SSN),
    exact("Social Security", SSN),
    label("dob", DOB),
    label("d.o.b", DOB),
    label("birth", DOB),
    label("born", DOB),
    label("geburtsdatum", DOB),
    label("passport", PASSPORT),
    label("reisepass", PASSPORT),
    exact("P<", &[(D::Passport, passport::mrz)]),
];

/// Every detector that owns an anchor.
pub(super) const OWNERS: DetectorSet = {
    let mut set = DetectorSet::NONE;
    let mut i = 0;
    while i < ANCHORS.len() {
        let mut j = 0;
        while j < ANCHORS[i].owners.len() {
            set = set.with(ANCHORS[i].owners[j].0);
            j += 1;
        }
        i += 1;
    }
    set
};

/// Which search an anchor belongs to. Each search stays small enough (≤ 64 literals) for the
/// automaton's SIMD (Teddy) prefilter, and literals shorter than four bytes get searches of
/// their own, so the others are found by four-byte fingerprints (far fewer false candidates in
/// prose than three-byte ones).
fn group(anchor: &Anchor) -> usize {
    match anchor.case {
        _ if anchor.literal.len() < 3 => 3,
        _ if anchor.literal.len() == 3 => 2,
        Case::Exact => 0,
        Case::Label => 1,
    }
}

/// The literal forms an anchor is searched for.
fn forms(anchor: &Anchor) -> Vec<String> {
    let mut forms = vec![anchor.literal.to_string()];
    if let Case::Label = anchor.case {
        forms.push(anchor.literal.to_ascii_uppercase());
        forms.push(capitalised(anchor.literal));
    }
    forms.dedup();
    forms
}

/// One search: the automaton, per pattern id the anchor it came from, and every owner.
struct Automaton {
    search: AhoCorasick,
    anchor_of: Vec<usize>,
    owners: DetectorSet,
}

static AUTOMATA: LazyLock<[Automaton; 4]> = LazyLock::new(|| [build(0), build(1), build(2), build(3)]);

fn build(which: usize) -> Automaton {
    let mut patterns: Vec<String> = Vec::new();
    let mut anchor_of = Vec::new();
    let mut owners = DetectorSet::NONE;
    for (i, anchor) in ANCHORS.iter().enumerate().filter(|(_, a)| group(a) == which) {
        for form in forms(anchor) {
            if !patterns.contains(&form) {
                patterns.push(form);
                anchor_of.push(i);
            }
        }
        owners = anchor.owners.iter().fold(owners, |s, (d, _)| s.with(*d));
    }
    let search = AhoCorasick::builder()
        .match_kind(MatchKind::LeftmostFirst)
        .kind(Some(AhoCorasickKind::DFA))
        .build(&patterns)
        .expect("the anchor literals are a fixed, valid pattern set");
    Automaton {
        search,
        anchor_of,
        owners,
    }
}

fn capitalised(s: &str) -> String {
    let mut out = s.to_string();
    if let Some(first) = out.get_mut(..1) {
        first.make_ascii_uppercase();
    }
    out
}

/// Runs the anchor searches over `bytes`, recording every detector that fires.
pub(super) fn scan(bytes: &[u8], hits: &mut Hits) {
    for automaton in AUTOMATA.iter() {
        if !hits.open.meets(automaton.owners) {
            continue;
        }
        for m in automaton.search.find_iter(bytes) {
            let anchor = &ANCHORS[automaton.anchor_of[m.pattern().as_usize()]];
            for (detector, verify) in anchor.owners {
                if hits.wants(*detector) && verify(bytes, m.start(), m.end()) {
                    hits.fire(*detector);
                }
            }
            if !hits.open.meets(automaton.owners) {
                break;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn anchors_do_not_overlap() {
        // A literal that contains another hides it from the non-overlapping search: it must
        // then list that literal's owners too.
        let owners = |a: &Anchor| a.owners.iter().fold(DetectorSet::NONE, |s, (d, _)| s.with(*d));
        for outer in ANCHORS {
            for inner in ANCHORS {
                let hidden = forms(outer)
                    .iter()
                    .any(|o| forms(inner).iter().any(|i| o != i && o.contains(i.as_str())));
                if hidden {
                    assert!(
                        owners(inner).iter().all(|d| owners(outer).contains(d)),
                        "`{}` hides `{}`",
                        outer.literal,
                        inner.literal
                    );
                }
            }
        }
        for automaton in AUTOMATA.iter() {
            assert!(
                automaton.anchor_of.len() <= 64,
                "{} literals: too many for the SIMD prefilter",
                automaton.anchor_of.len()
            );
        }
    }

    #[test]
    fn every_anchor_detector_is_an_owner() {
        for d in [
            Detector::PrivateKey,
            Detector::Passport,
            Detector::Twilio,
            Detector::CredentialFile,
        ] {
            assert!(OWNERS.contains(d));
        }
        assert!(!OWNERS.contains(Detector::Email) && !OWNERS.contains(Detector::CreditCard));
    }
}
