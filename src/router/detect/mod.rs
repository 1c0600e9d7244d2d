//! Content detectors: cheap linear scans that upgrade a request to `sensitive`.
//!
//! Each detector answers only "did it fire"; none returns or keeps the matched text, so
//! nothing a detector sees can reach a log line or a decision record.

mod api_key;
mod credit_card;
mod email;
mod national_id;
mod private_key;

/// One named content detector (the names of `config::DETECTORS`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Detector {
    /// PEM/OpenSSH/PGP/PuTTY private key blocks.
    PrivateKey,
    /// Provider API keys and tokens (OpenAI, Anthropic, AWS, GitHub, GitLab, Slack, Google, Stripe).
    ApiKey,
    /// Payment card numbers with a plausible issuer prefix and a valid Luhn check digit.
    CreditCard,
    /// E-mail addresses of the shape `local@domain.tld`.
    Email,
    /// US SSN, UK National Insurance number, German Steuer-ID (checksummed).
    NationalId,
}

impl Detector {
    /// Every detector, in the order [`scan`] tries them.
    pub const ALL: [Detector; 5] = [
        Detector::PrivateKey,
        Detector::ApiKey,
        Detector::CreditCard,
        Detector::Email,
        Detector::NationalId,
    ];

    /// The detector's name as written in `policy.detectors`.
    pub fn name(self) -> &'static str {
        match self {
            Detector::PrivateKey => "private_key",
            Detector::ApiKey => "api_key",
            Detector::CreditCard => "credit_card",
            Detector::Email => "email",
            Detector::NationalId => "national_id",
        }
    }

    /// The sensitivity reason recorded when this detector fires: `detector:<name>`.
    pub fn reason(self) -> &'static str {
        match self {
            Detector::PrivateKey => "detector:private_key",
            Detector::ApiKey => "detector:api_key",
            Detector::CreditCard => "detector:credit_card",
            Detector::Email => "detector:email",
            Detector::NationalId => "detector:national_id",
        }
    }

    /// The detector called `name`, if there is one.
    pub fn from_name(name: &str) -> Option<Detector> {
        Detector::ALL.into_iter().find(|d| d.name() == name)
    }

    /// True when this detector fires anywhere in `text`.
    pub fn fires_on(self, text: &str) -> bool {
        match self {
            Detector::PrivateKey => private_key::contains(text),
            Detector::ApiKey => api_key::contains(text),
            Detector::CreditCard => credit_card::contains(text),
            Detector::Email => email::contains(text),
            Detector::NationalId => national_id::contains(text),
        }
    }

    fn bit(self) -> u8 {
        1 << self as u8
    }
}

impl std::fmt::Display for Detector {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// The detectors that are switched on (`policy.detectors`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct DetectorSet(u8);

impl DetectorSet {
    /// No detector enabled.
    pub const NONE: DetectorSet = DetectorSet(0);
    /// Every detector enabled.
    pub const ALL: DetectorSet = DetectorSet(0b1_1111);

    /// The set named by `names`; unknown names are skipped (config validation already refuses them).
    pub fn from_names<S: AsRef<str>>(names: &[S]) -> DetectorSet {
        names
            .iter()
            .filter_map(|n| Detector::from_name(n.as_ref()))
            .fold(DetectorSet::NONE, DetectorSet::with)
    }

    /// This set plus `detector`.
    pub fn with(self, detector: Detector) -> DetectorSet {
        DetectorSet(self.0 | detector.bit())
    }

    /// Whether `detector` is enabled.
    pub fn contains(self, detector: Detector) -> bool {
        self.0 & detector.bit() != 0
    }

    /// True when no detector is enabled.
    pub fn is_empty(self) -> bool {
        self.0 == 0
    }

    /// The enabled detectors, in scan order.
    pub fn iter(self) -> impl Iterator<Item = Detector> {
        Detector::ALL.into_iter().filter(move |d| self.contains(*d))
    }
}

/// The first enabled detector (in [`Detector::ALL`] order) that fires on any of `texts`.
pub fn scan(texts: &[&str], enabled: DetectorSet) -> Option<Detector> {
    enabled.iter().find(|d| texts.iter().any(|t| d.fires_on(t)))
}

/// The first enabled detector (in [`Detector::ALL`] order) that fires on `text`.
pub fn scan_text(text: &str, enabled: DetectorSet) -> Option<Detector> {
    enabled.iter().find(|d| d.fires_on(text))
}

/// A byte-class table: ASCII letters and digits plus `also`, looked up once per byte.
const fn byte_table(also: &[u8]) -> [bool; 256] {
    let mut table = [false; 256];
    let mut b = 0;
    while b < 256 {
        table[b] = (b as u8).is_ascii_alphanumeric();
        b += 1;
    }
    let mut i = 0;
    while i < also.len() {
        table[also[i] as usize] = true;
        i += 1;
    }
    table
}

static WORD_BYTES: [bool; 256] = byte_table(b"");

/// True when `b` may be part of a word or number; detectors only match at such boundaries.
fn is_word_byte(b: u8) -> bool {
    WORD_BYTES[usize::from(b)]
}

/// The byte before `i`, if any.
fn byte_before(bytes: &[u8], i: usize) -> Option<u8> {
    i.checked_sub(1).map(|j| bytes[j])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_match_the_config_list() {
        let names: Vec<&str> = Detector::ALL.iter().map(|d| d.name()).collect();
        assert_eq!(names, crate::config::DETECTORS);
        for d in Detector::ALL {
            assert_eq!(Detector::from_name(d.name()), Some(d));
            assert_eq!(d.reason(), format!("detector:{}", d.name()));
        }
        assert_eq!(Detector::from_name("phone"), None);
    }

    #[test]
    fn sets_hold_what_config_names() {
        let set = DetectorSet::from_names(&["email", "api_key", "nonsense"]);
        assert!(set.contains(Detector::Email) && set.contains(Detector::ApiKey));
        assert!(!set.contains(Detector::CreditCard));
        assert_eq!(set.iter().collect::<Vec<_>>(), [Detector::ApiKey, Detector::Email]);
        assert!(DetectorSet::NONE.is_empty());
        assert_eq!(DetectorSet::from_names(crate::config::DETECTORS), DetectorSet::ALL);
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
}
