//! AI provider keys: OpenAI (`sk-…`, `sk-proj-…`) and Anthropic (`sk-ant-…`) API keys
//! ([`Detector::ApiKey`](super::Detector::ApiKey)) and Hugging Face access tokens (`hf_…`).
//! Length and randomness rules keep hyphenated words (`risk-assessment`, `sk-learn`) and
//! identifiers (`hf_hub_download`) from firing.

use super::text::{TOKEN, WORD, clean_start, random_looking, token};

/// `sk-` at `start..end`: an OpenAI or Anthropic key body of 32+ generated-looking characters.
pub(super) fn openai_anthropic(bytes: &[u8], start: usize, end: usize) -> bool {
    if !clean_start(bytes, start, &TOKEN) {
        return false;
    }
    let body = token(bytes, end, &TOKEN, 256);
    body.len() >= 32 && random_looking(body, 3)
}

/// `hf_` at `start..end`: 34 or more letters and digits, with digits among them.
pub(super) fn huggingface(bytes: &[u8], start: usize, end: usize) -> bool {
    if !clean_start(bytes, start, &TOKEN) {
        return false;
    }
    let body = token(bytes, end, &WORD, 128);
    body.len() >= 34 && !bytes.get(end + body.len()).is_some_and(|b| TOKEN[usize::from(*b)]) && random_looking(body, 1)
}

#[cfg(test)]
mod tests {
    use crate::router::detect::Detector;

    #[test]
    fn fires_on_provider_key_shapes() {
        for text in [
            "OPENAI_API_KEY=sk-4f9aK2mQ7xL0pR8sT3vW6yZ1bC5dE9gH2jK4mN7q",
            "use sk-proj-Ab3dEf6hIj9kLm2nOp5qRs8tUv1wXy4zAb7cDe0fGh3iJk6lMn9o please",
            "key: sk-ant-api03-Zx9Yw8Vu7Ts6Rq5Po4Nm3Lk2Jh1Gf0EdCbA9zY8xW7vU6tS5rQ4pO3nM2lK1jI0hG-AA",
        ] {
            assert!(Detector::ApiKey.fires_on(text), "{text}");
        }
        assert!(Detector::Huggingface.fires_on("HF_TOKEN=hf_aB3dE6gH9jK2mN5pQ8sT1vW4yZ7bC0eF3h"));
    }

    #[test]
    fn ignores_words_versions_and_ids() {
        for text in [
            "run the risk-assessment for the sk-learn pipeline",
            "the task-management board and desk-booking tool",
            "sk-the-quick-brown-fox-jumps-over-the-lazy-dog-2024-v2",
            "sk-short1234",
            "mask-4f9aK2mQ7xL0pR8sT3vW6yZ1bC5dE9gH2jK4mN7q",
            "order 123e4567-e89b-12d3-a456-426614174000 shipped",
        ] {
            assert!(!Detector::ApiKey.fires_on(text), "{text}");
        }
        for text in [
            "from huggingface_hub import hf_hub_download",
            "hf_aB3dE6gH9jK2mN5pQ8sT1vW4 is too short",
            "hf_abcdefghijklmnopqrstuvwxyzabcdefghij",
            "self.hf_aB3dE6gH9jK2mN5pQ8sT1vW4yZ7bC0eF3h_suffix",
        ] {
            assert!(!Detector::Huggingface.fires_on(text), "{text}");
        }
    }
}
