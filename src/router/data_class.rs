//! `X-Data-Class`: the agent's own label for the data in a request. It fails closed: labels are
//! matched case-insensitively, lists and repeated headers are read whole, and a label the router
//! does not know is refused rather than guessed at.

/// A data label an agent can put on a request.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum DataClass {
    /// Public data; may leave the farm.
    Public,
    /// Internal data; may leave the farm.
    Internal,
    /// Restricted data; stays on the farm.
    Restricted,
    /// Confidential data; stays on the farm.
    Confidential,
    /// Secrets; stay on the farm.
    Secret,
    /// Personal data; stays on the farm.
    Pii,
    /// Health data; stays on the farm.
    Phi,
}

impl DataClass {
    /// Every label, the ones that leave first.
    pub const ALL: [DataClass; 7] = [
        DataClass::Public,
        DataClass::Internal,
        DataClass::Restricted,
        DataClass::Confidential,
        DataClass::Secret,
        DataClass::Pii,
        DataClass::Phi,
    ];

    /// The label as written in the header.
    pub fn name(self) -> &'static str {
        match self {
            DataClass::Public => "public",
            DataClass::Internal => "internal",
            DataClass::Restricted => "restricted",
            DataClass::Confidential => "confidential",
            DataClass::Secret => "secret",
            DataClass::Pii => "pii",
            DataClass::Phi => "phi",
        }
    }

    /// Whether the label keeps a request on the farm.
    pub fn is_sensitive(self) -> bool {
        !matches!(self, DataClass::Public | DataClass::Internal)
    }

    /// The sensitivity reason recorded for a sensitive label: `header:<label>`.
    pub fn reason(self) -> &'static str {
        match self {
            DataClass::Public => "header:public",
            DataClass::Internal => "header:internal",
            DataClass::Restricted => "header:restricted",
            DataClass::Confidential => "header:confidential",
            DataClass::Secret => "header:secret",
            DataClass::Pii => "header:pii",
            DataClass::Phi => "header:phi",
        }
    }

    fn from_label(label: &str) -> Option<DataClass> {
        DataClass::ALL
            .into_iter()
            .find(|c| c.name().eq_ignore_ascii_case(label))
    }
}

/// Why an `X-Data-Class` header was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DataClassError {
    /// A label the router does not know (shown cut to 32 printable characters).
    #[error(
        "X-Data-Class: unknown label `{0}` (known: public, internal, restricted, confidential, secret, pii, phi; the last five keep the request on the farm)"
    )]
    Unknown(String),
    /// The header was sent with no label in it.
    #[error(
        "X-Data-Class is empty: send one or more of public, internal, restricted, confidential, secret, pii, phi, or leave the header out"
    )]
    Empty,
}

/// Reads every value of the `X-Data-Class` header (comma-separated lists, repeated headers) and
/// returns the first sensitive label, `None` when every label may leave or none was sent.
pub fn parse_data_class<'a>(values: impl IntoIterator<Item = &'a [u8]>) -> Result<Option<DataClass>, DataClassError> {
    let mut sent = false;
    let mut labels = 0;
    let mut sensitive = None;
    for value in values {
        sent = true;
        for raw in value.split(|b| *b == b',') {
            let label = raw.trim_ascii();
            if label.is_empty() {
                continue;
            }
            labels += 1;
            let class = std::str::from_utf8(label)
                .ok()
                .and_then(DataClass::from_label)
                .ok_or_else(|| DataClassError::Unknown(shown(label)))?;
            if class.is_sensitive() && sensitive.is_none() {
                sensitive = Some(class);
            }
        }
    }
    if sent && labels == 0 {
        return Err(DataClassError::Empty);
    }
    Ok(sensitive)
}

/// A label as echoed back in an error: printable ASCII only, at most 32 characters.
fn shown(label: &[u8]) -> String {
    String::from_utf8_lossy(label)
        .chars()
        .filter(|c| c.is_ascii_graphic() || *c == ' ')
        .take(32)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(values: &[&str]) -> Result<Option<DataClass>, DataClassError> {
        parse_data_class(values.iter().map(|v| v.as_bytes()))
    }

    #[test]
    fn sensitive_labels_keep_the_request_on_the_farm_in_any_case() {
        for (value, class) in [
            ("restricted", DataClass::Restricted),
            ("CONFIDENTIAL", DataClass::Confidential),
            (" Secret ", DataClass::Secret),
            ("pii", DataClass::Pii),
            ("PhI", DataClass::Phi),
        ] {
            assert_eq!(parse(&[value]), Ok(Some(class)), "{value}");
        }
    }

    #[test]
    fn public_and_internal_leave_and_absence_is_no_label() {
        assert_eq!(parse(&["public"]), Ok(None));
        assert_eq!(parse(&["Internal, PUBLIC"]), Ok(None));
        assert_eq!(parse(&[]), Ok(None));
    }

    #[test]
    fn lists_and_repeated_headers_are_read_whole() {
        assert_eq!(parse(&["public, pii"]), Ok(Some(DataClass::Pii)));
        assert_eq!(parse(&["public", "phi"]), Ok(Some(DataClass::Phi)));
        assert_eq!(parse(&["internal,,secret,"]), Ok(Some(DataClass::Secret)));
        assert_eq!(
            parse(&["confidential, pii"]),
            Ok(Some(DataClass::Confidential)),
            "the first sensitive label names the reason"
        );
    }

    #[test]
    fn unknown_or_empty_labels_are_refused_with_the_known_list() {
        let err = parse(&["public, top-secret"]).unwrap_err();
        assert_eq!(err, DataClassError::Unknown("top-secret".into()));
        let text = err.to_string();
        for class in DataClass::ALL {
            assert!(text.contains(class.name()), "{text}");
        }
        assert_eq!(
            parse(&["pii", "bogus"]).unwrap_err(),
            DataClassError::Unknown("bogus".into())
        );
        assert_eq!(parse(&[""]).unwrap_err(), DataClassError::Empty);
        assert_eq!(parse(&[" , "]).unwrap_err(), DataClassError::Empty);
        let hostile = parse_data_class([b"\xff\x1b[31mrestricted".as_slice()]).unwrap_err();
        assert_eq!(hostile, DataClassError::Unknown("[31mrestricted".into()));
        let long = "x".repeat(500);
        assert!(parse(&[&long]).unwrap_err().to_string().len() < 300);
    }
}
