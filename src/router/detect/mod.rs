//! Content detectors: cheap linear scans that upgrade a request to `sensitive`.
//!
//! Each detector answers only "did it fire"; none returns or keeps the matched text, so
//! nothing a detector sees can reach a log line or a decision record.
//!
//! One scan serves every detector, in a few linear passes over the text:
//! - [`anchors`]: Aho-Corasick searches (SIMD-prefiltered, grouped by literal length) over every
//!   literal a detector keys on (token prefixes such as `ghp_`, labels such as `password` or
//!   `birth`); each hit is handed to the detectors that own that literal, which check the bytes
//!   around it;
//! - [`numbers`]: one pass over the starts of digit runs, shared by the number detectors
//!   (payment cards, national ids, IBANs, phone numbers);
//! - [`email`]: a `memchr` search for `@`.
//!
//! A pass is skipped when none of its detectors can still change the answer.

mod ai_providers;
mod anchors;
mod assignments;
mod blocks;
mod cloud;
mod code_hosts;
mod credit_card;
mod date_of_birth;
mod email;
mod iban;
mod jwt;
mod messaging;
mod national_id;
mod numbers;
mod passport;
mod payments;
mod phone;
mod private_key;
mod registries;
mod text;
mod url_credentials;

/// One named content detector (the names of `config::DETECTORS`), declared in [`Detector::ALL`] order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Detector {
    /// PEM/OpenSSH/PGP/PuTTY/SSH2 private key blocks, truncated and JSON-escaped ones included.
    PrivateKey,
    /// OpenAI (`sk-`, `sk-proj-`) and Anthropic (`sk-ant-`) API keys.
    ApiKey,
    /// JSON Web Tokens: three base64url segments whose header decodes to JSON with `"alg"`.
    Jwt,
    /// GitHub tokens: `ghp_`, `gho_`, `ghu_`, `ghs_`, `ghr_` and fine-grained `github_pat_`.
    Github,
    /// GitLab tokens: `glpat-`, `gldt-`, `glrt-`, `glptt-`, `gloas-`, … and `GR1348941` runner tokens.
    Gitlab,
    /// Slack tokens (`xoxb-`, `xoxp-`, `xoxe.xoxp-`, `xapp-`, …) and incoming-webhook URLs.
    Slack,
    /// Stripe secret and restricted keys (`sk_live_`, `rk_test_`, …) and webhook secrets (`whsec_`).
    Stripe,
    /// Google API keys: `AIza` and 35 more characters.
    GoogleApiKey,
    /// AWS access key ids (`AKIA…`, `ASIA…`, …) and secret access keys next to their usual names.
    Aws,
    /// Azure storage account keys, Service Bus shared access keys and SAS signatures.
    Azure,
    /// Tailscale keys: `tskey-auth-…`, `tskey-api-…`, `tskey-client-…`, …
    Tailscale,
    /// Hugging Face access tokens: `hf_` and 34 or more letters and digits.
    Huggingface,
    /// npm tokens (`npm_…`) and `_authToken=` lines of an `.npmrc`.
    Npm,
    /// PyPI upload tokens (`pypi-AgEIcHlwaS5vcmc…`).
    Pypi,
    /// SendGrid API keys: `SG.<22>.<43>`.
    Sendgrid,
    /// Twilio account SIDs (`AC…`), API key SIDs (`SK…`) and auth tokens next to a Twilio name.
    Twilio,
    /// URLs and DSNs with a password in the userinfo (`postgres://user:pass@host`).
    UrlCredentials,
    /// `password`/`secret`/`token`/`api_key`… assignments whose value looks like a real secret.
    SecretAssignment,
    /// JSON credential files: GCP service accounts, OAuth client secrets, embedded private keys.
    CredentialFile,
    /// Payment card numbers with a plausible issuer prefix and a valid Luhn check digit.
    CreditCard,
    /// E-mail addresses of the shape `local@domain.tld`.
    Email,
    /// US SSN (dashed, or labelled), UK National Insurance number, German Steuer-ID (checksummed).
    NationalId,
    /// IBANs with the right length for their country and a valid mod-97 check.
    Iban,
    /// International phone numbers: `+`, a real country code and an E.164-plausible digit count.
    Phone,
    /// Dates next to a birth label (`DOB`, `date of birth`, `born on`, `Geburtsdatum`, …).
    DateOfBirth,
    /// Passport numbers next to a passport label, and passport MRZ lines (`P<GBR…`).
    Passport,
}

impl Detector {
    /// Every detector, in the order [`scan`] and [`scan_text`] prefer them.
    pub const ALL: [Detector; 26] = [
        Detector::PrivateKey,
        Detector::ApiKey,
        Detector::Jwt,
        Detector::Github,
        Detector::Gitlab,
        Detector::Slack,
        Detector::Stripe,
        Detector::GoogleApiKey,
        Detector::Aws,
        Detector::Azure,
        Detector::Tailscale,
        Detector::Huggingface,
        Detector::Npm,
        Detector::Pypi,
        Detector::Sendgrid,
        Detector::Twilio,
        Detector::UrlCredentials,
        Detector::SecretAssignment,
        Detector::CredentialFile,
        Detector::CreditCard,
        Detector::Email,
        Detector::NationalId,
        Detector::Iban,
        Detector::Phone,
        Detector::DateOfBirth,
        Detector::Passport,
    ];

    /// The detector's name as written in `policy.detectors`.
    pub fn name(self) -> &'static str {
        match self {
            Detector::PrivateKey => "private_key",
            Detector::ApiKey => "api_key",
            Detector::Jwt => "jwt",
            Detector::Github => "github",
            Detector::Gitlab => "gitlab",
            Detector::Slack => "slack",
            Detector::Stripe => "stripe",
            Detector::GoogleApiKey => "google_api_key",
            Detector::Aws => "aws",
            Detector::Azure => "azure",
            Detector::Tailscale => "tailscale",
            Detector::Huggingface => "huggingface",
            Detector::Npm => "npm",
            Detector::Pypi => "pypi",
            Detector::Sendgrid => "sendgrid",
            Detector::Twilio => "twilio",
            Detector::UrlCredentials => "url_credentials",
            Detector::SecretAssignment => "secret_assignment",
            Detector::CredentialFile => "credential_file",
            Detector::CreditCard => "credit_card",
            Detector::Email => "email",
            Detector::NationalId => "national_id",
            Detector::Iban => "iban",
            Detector::Phone => "phone",
            Detector::DateOfBirth => "date_of_birth",
            Detector::Passport => "passport",
        }
    }

    /// The sensitivity reason recorded when this detector fires: `detector:<name>`.
    pub fn reason(self) -> &'static str {
        match self {
            Detector::PrivateKey => "detector:private_key",
            Detector::ApiKey => "detector:api_key",
            Detector::Jwt => "detector:jwt",
            Detector::Github => "detector:github",
            Detector::Gitlab => "detector:gitlab",
            Detector::Slack => "detector:slack",
            Detector::Stripe => "detector:stripe",
            Detector::GoogleApiKey => "detector:google_api_key",
            Detector::Aws => "detector:aws",
            Detector::Azure => "detector:azure",
            Detector::Tailscale => "detector:tailscale",
            Detector::Huggingface => "detector:huggingface",
            Detector::Npm => "detector:npm",
            Detector::Pypi => "detector:pypi",
            Detector::Sendgrid => "detector:sendgrid",
            Detector::Twilio => "detector:twilio",
            Detector::UrlCredentials => "detector:url_credentials",
            Detector::SecretAssignment => "detector:secret_assignment",
            Detector::CredentialFile => "detector:credential_file",
            Detector::CreditCard => "detector:credit_card",
            Detector::Email => "detector:email",
            Detector::NationalId => "detector:national_id",
            Detector::Iban => "detector:iban",
            Detector::Phone => "detector:phone",
            Detector::DateOfBirth => "detector:date_of_birth",
            Detector::Passport => "detector:passport",
        }
    }

    /// The detector called `name`, if there is one.
    pub fn from_name(name: &str) -> Option<Detector> {
        Detector::ALL.into_iter().find(|d| d.name() == name)
    }

    /// True when this detector fires anywhere in `text`.
    pub fn fires_on(self, text: &str) -> bool {
        scan_text(text, DetectorSet::NONE.with(self)).is_some()
    }

    /// This detector's bit in a [`DetectorSet`]; the discriminant is its place in [`Detector::ALL`].
    const fn bit(self) -> u32 {
        1 << self as u32
    }
}

impl std::fmt::Display for Detector {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// The detectors that are switched on (`policy.detectors`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct DetectorSet(u32);

impl DetectorSet {
    /// No detector enabled.
    pub const NONE: DetectorSet = DetectorSet(0);
    /// Every detector enabled.
    pub const ALL: DetectorSet = DetectorSet((1 << Detector::ALL.len()) - 1);

    /// The set named by `names`; unknown names are skipped (config validation already refuses them).
    pub fn from_names<S: AsRef<str>>(names: &[S]) -> DetectorSet {
        names
            .iter()
            .filter_map(|n| Detector::from_name(n.as_ref()))
            .fold(DetectorSet::NONE, DetectorSet::with)
    }

    /// This set plus `detector`.
    pub const fn with(self, detector: Detector) -> DetectorSet {
        DetectorSet(self.0 | detector.bit())
    }

    /// This set minus `detector`.
    pub const fn without(self, detector: Detector) -> DetectorSet {
        DetectorSet(self.0 & !detector.bit())
    }

    /// Whether `detector` is enabled.
    pub const fn contains(self, detector: Detector) -> bool {
        self.0 & detector.bit() != 0
    }

    /// True when no detector is enabled.
    pub const fn is_empty(self) -> bool {
        self.0 == 0
    }

    /// The enabled detectors, in scan order.
    pub fn iter(self) -> impl Iterator<Item = Detector> {
        Detector::ALL.into_iter().filter(move |d| self.contains(*d))
    }

    /// The detectors of this set that come before `detector` in [`Detector::ALL`].
    const fn before(self, detector: Detector) -> DetectorSet {
        DetectorSet(self.0 & (detector.bit() - 1))
    }

    /// Whether this set and `other` share a detector.
    const fn meets(self, other: DetectorSet) -> bool {
        self.0 & other.0 != 0
    }
}

/// The first enabled detector (in [`Detector::ALL`] order) that fires on any of `texts`.
pub fn scan(texts: &[&str], enabled: DetectorSet) -> Option<Detector> {
    let mut open = enabled;
    let mut first = None;
    for text in texts {
        if open.is_empty() {
            break;
        }
        if let Some(d) = scan_text(text, open) {
            first = Some(d);
            open = open.before(d);
        }
    }
    first
}

/// The first enabled detector (in [`Detector::ALL`] order) among those that fire on `text`.
///
/// Allocation-free; the automaton is built once per process. When several detectors fire the
/// answer is still the earliest of them in [`Detector::ALL`], so it is deterministic.
pub fn scan_text(text: &str, enabled: DetectorSet) -> Option<Detector> {
    let mut hits = Hits::new(enabled);
    let bytes = text.as_bytes();
    if hits.open.meets(anchors::OWNERS) {
        anchors::scan(bytes, &mut hits);
    }
    if hits.open.meets(numbers::OWNERS) {
        numbers::scan(bytes, &mut hits);
    }
    if hits.wants(Detector::Email) && email::contains(text) {
        hits.fire(Detector::Email);
    }
    hits.first
}

/// What a scan has found so far, and which detectors could still change its answer.
struct Hits {
    /// Enabled detectors that come before every detector that has fired.
    open: DetectorSet,
    /// The earliest detector (in [`Detector::ALL`] order) that has fired.
    first: Option<Detector>,
}

impl Hits {
    fn new(enabled: DetectorSet) -> Hits {
        Hits {
            open: enabled,
            first: None,
        }
    }

    /// Whether `detector` firing would change the answer.
    fn wants(&self, detector: Detector) -> bool {
        self.open.contains(detector)
    }

    /// Records that `detector` fired (ignored unless it improves the answer).
    fn fire(&mut self, detector: Detector) {
        if self.wants(detector) {
            self.first = Some(detector);
            self.open = self.open.before(detector);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_match_the_config_list() {
        let names: Vec<&str> = Detector::ALL.iter().map(|d| d.name()).collect();
        assert_eq!(names, crate::config::DETECTORS);
        for (i, d) in Detector::ALL.into_iter().enumerate() {
            assert_eq!(d as usize, i, "{d} is declared out of ALL order");
            assert_eq!(Detector::from_name(d.name()), Some(d));
            assert_eq!(d.reason(), format!("detector:{}", d.name()));
            assert_eq!(d.to_string(), d.name());
        }
        assert_eq!(Detector::from_name("ssn"), None);
    }

    #[test]
    fn sets_hold_what_config_names() {
        let set = DetectorSet::from_names(&["email", "api_key", "nonsense"]);
        assert!(set.contains(Detector::Email) && set.contains(Detector::ApiKey));
        assert!(!set.contains(Detector::CreditCard));
        assert_eq!(set.iter().collect::<Vec<_>>(), [Detector::ApiKey, Detector::Email]);
        assert_eq!(
            set.without(Detector::Email).iter().collect::<Vec<_>>(),
            [Detector::ApiKey]
        );
        assert!(DetectorSet::NONE.is_empty());
        assert_eq!(DetectorSet::from_names(crate::config::DETECTORS), DetectorSet::ALL);
        assert_eq!(DetectorSet::ALL.iter().count(), Detector::ALL.len());
        let last = Detector::ALL[Detector::ALL.len() - 1];
        assert!(DetectorSet::ALL.contains(last) && !DetectorSet::ALL.without(last).contains(last));
    }

    #[test]
    fn scan_reports_the_first_enabled_detector_only() {
        let texts = ["contact ops@example.com", "card 4111 1111 1111 1111"];
        assert_eq!(scan(&texts, DetectorSet::ALL), Some(Detector::CreditCard));
        assert_eq!(
            scan(&texts, DetectorSet::NONE.with(Detector::Email)),
            Some(Detector::Email)
        );
        assert_eq!(scan(&texts, DetectorSet::NONE.with(Detector::ApiKey)), None);
        assert_eq!(scan(&texts, DetectorSet::NONE), None);
        assert_eq!(scan(&[], DetectorSet::ALL), None);
    }

    #[test]
    fn scan_text_prefers_all_order_whatever_the_position() {
        let text = "mail ops@example.com, then ghp_aB3dE6gH9jK2mN5pQ8sT1vW4yZ7bC0eF3hI6";
        assert_eq!(scan_text(text, DetectorSet::ALL), Some(Detector::Github));
        assert_eq!(
            scan_text(text, DetectorSet::ALL.without(Detector::Github)),
            Some(Detector::Email)
        );
        assert_eq!(scan_text("", DetectorSet::ALL), None);
        assert_eq!(scan_text(text, DetectorSet::NONE), None);
    }
}
