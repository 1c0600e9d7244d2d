//! Package registry tokens.
//! - npm: granular/automation tokens `npm_` + 36 letters and digits, and `_authToken=` lines
//!   of an `.npmrc` (`//registry.npmjs.org/:_authToken=…`) with a literal value (not `${NPM_TOKEN}`).
//! - PyPI: upload tokens, `pypi-` + a macaroon whose base64 starts `AgEIcHlwaS5vcmc` (`pypi.org`).

use super::text::{
    TOKEN, WORD, clean_end, clean_start, exact_token, is_placeholder, looks_generated, random_looking, token,
};

/// `npm_` at `start..end`: exactly 36 generated-looking letters and digits.
pub(super) fn npm_token(bytes: &[u8], start: usize, end: usize) -> bool {
    clean_start(bytes, start, &TOKEN)
        && exact_token(bytes, end, &WORD, 36)
        && clean_end(bytes, end + 36, &TOKEN)
        && bytes.get(end..end + 36).is_some_and(|b| random_looking(b, 1))
}

/// `_authToken` at `start..end` of an `.npmrc` line: `=` and a literal token follow.
pub(super) fn npmrc_auth(bytes: &[u8], _start: usize, end: usize) -> bool {
    if bytes.get(end) != Some(&b'=') {
        return false;
    }
    let value = token(bytes, end + 1, &NPMRC_VALUE, 512);
    value.len() >= 20 && !is_placeholder(value) && looks_generated(value)
}

/// `pypi-AgEIcHlwaS5vcmc` at `start..end`: the rest of the macaroon (50+ characters) follows.
pub(super) fn pypi(bytes: &[u8], start: usize, end: usize) -> bool {
    clean_start(bytes, start, &TOKEN) && token(bytes, end, &TOKEN, 512).len() >= 50
}

/// Values of `_authToken`: token bytes plus base64 and the `${…}` of a placeholder.
static NPMRC_VALUE: [bool; 256] = super::text::byte_table(b"-_.+/=${}");

#[cfg(test)]
mod tests {
    use crate::router::detect::Detector;

    #[test]
    fn npm_tokens_and_npmrc_lines() {
        for text in [
            "NPM_TOKEN=npm_aB3dE6gH9jK2mN5pQ8sT1vW4yZ7bC0eF3hI6",
            "//registry.npmjs.org/:_authToken=npm_aB3dE6gH9jK2mN5pQ8sT1vW4yZ7bC0eF3hI6",
            "//npm.pkg.github.com/:_authToken=ghp_aB3dE6gH9jK2mN5pQ8sT1vW4yZ7bC0eF3hI6",
        ] {
            assert!(Detector::Npm.fires_on(text), "{text}");
        }
        for text in [
            "//registry.npmjs.org/:_authToken=${NPM_TOKEN}",
            "npm_config_registry=https://registry.npmjs.org",
            "npm_aB3dE6gH9jK2mN5pQ8sT1vW4 too short",
            "run npm_install_deps_for_the_whole_project_now",
        ] {
            assert!(!Detector::Npm.fires_on(text), "{text}");
        }
    }

    #[test]
    fn pypi_tokens() {
        assert!(
            Detector::Pypi
                .fires_on("password = pypi-AgEIcHlwaS5vcmcCJGI4YzM0ZjE2LTk1ZGEtNGQ2Zi1hYjQ3LTkxNzNiNWI0ZjI5YgACKlsz")
        );
        assert!(!Detector::Pypi.fires_on("tokens look like pypi-AgEIcHlwaS5vcmc…"));
        assert!(!Detector::Pypi.fires_on("pip install pypi-simple"));
    }
}
