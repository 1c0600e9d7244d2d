//! Code-host tokens.
//! - GitHub: `ghp_` (classic personal), `gho_` (OAuth), `ghu_`/`ghs_` (GitHub App user and
//!   server tokens), `ghr_` (refresh) with 36+ letters and digits; fine-grained `github_pat_`.
//! - GitLab: `glpat-` (personal/project/group), `gldt-` (deploy), `glrt-` (runner), `glptt-`
//!   (pipeline trigger), `gloas-` (OAuth app secret), `glcbt-`, `glft-`, `glimt-`, `glsoat-`,
//!   and legacy `GR1348941` runner registration tokens.
//!
//! Bodies must look generated, so `ghp_ tokens are…` prose and `ghp_aaaa…` fillers stay quiet.

use super::text::{TOKEN, WORD, clean_end, clean_start, looks_generated, random_looking, token};

/// A GitHub token prefix at `start..end`.
pub(super) fn github(bytes: &[u8], start: usize, end: usize) -> bool {
    if !clean_start(bytes, start, &TOKEN) {
        return false;
    }
    if bytes.get(start..end) == Some(b"github_pat_") {
        let body = token(bytes, end, &TOKEN, 256);
        return body.len() >= 40 && random_looking(body, 2);
    }
    let body = token(bytes, end, &WORD, 256);
    (36..=251).contains(&body.len()) && clean_end(bytes, end + body.len(), &TOKEN) && random_looking(body, 1)
}

/// A GitLab token prefix at `start..end`.
pub(super) fn gitlab(bytes: &[u8], start: usize, end: usize) -> bool {
    if !clean_start(bytes, start, &TOKEN) {
        return false;
    }
    let body = token(bytes, end, &GITLAB_BODY, 256);
    body.len() >= 20 && looks_generated(body)
}

/// GitLab bodies: token bytes plus the `.` of the newer routable format.
static GITLAB_BODY: [bool; 256] = super::text::byte_table(b"-_.");

#[cfg(test)]
mod tests {
    use crate::router::detect::Detector;

    #[test]
    fn fires_on_github_tokens() {
        for text in [
            "token ghp_aB3dE6gH9jK2mN5pQ8sT1vW4yZ7bC0eF3hI6",
            "gho_16C7e42F292c6912E7710c838347Ae178B4a",
            "GITHUB_TOKEN=ghs_Zx9Yw8Vu7Ts6Rq5Po4Nm3Lk2Jh1Gf0EdCbA9",
            "github_pat_11ABCDEFG0abcdefghij12_klmnopqrstuvwxyz0123456789ABCDEFGHIJKLMNOPQRSTU",
        ] {
            assert!(Detector::Github.fires_on(text), "{text}");
        }
    }

    #[test]
    fn ignores_github_prose_and_fillers() {
        for text in [
            "ghp_ tokens are 40 characters long",
            "ghp_aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
            "ghp_aB3dE6gH9jK2mN5pQ8sT1vW4 too short",
            "sghp_aB3dE6gH9jK2mN5pQ8sT1vW4yZ7bC0eF3hI6",
            "github_pat_ is the fine-grained prefix",
        ] {
            assert!(!Detector::Github.fires_on(text), "{text}");
        }
    }

    #[test]
    fn fires_on_gitlab_tokens_and_ignores_lookalikes() {
        for text in [
            "glpat-x9Yz8W7v6U5t4S3r2Q1p",
            "CI_JOB: gldt-Ab3dEf6hIj9kLm2nOp5q",
            "runner token glrt-t1_Zx9Yw8Vu7Ts6Rq5Po4Nm",
            "GR1348941aB3dE6gH9jK2mN5pQ8sT",
        ] {
            assert!(Detector::Gitlab.fires_on(text), "{text}");
        }
        for text in [
            "glpat-xxxxxxxxxxxxxxxxxxxx",
            "glpat-short1",
            "the glpat- prefix",
            "GR1348941 is the prefix",
        ] {
            assert!(!Detector::Gitlab.fires_on(text), "{text}");
        }
    }
}
