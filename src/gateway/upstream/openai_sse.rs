//! OpenAI-shaped usage (Ollama's `/v1` and OpenAI itself report it the same way), normalised for pricing.

use crate::config::TokenUsage;
use crate::wire::openai::Usage;

/// Normalises OpenAI usage for pricing: cached prompt tokens are read from the cache.
pub fn token_usage(usage: &Usage) -> TokenUsage {
    let cached = usage
        .prompt_tokens_details
        .map(|d| d.cached_tokens)
        .unwrap_or(0)
        .min(usage.prompt_tokens);
    TokenUsage {
        uncached_in: usage.prompt_tokens - cached,
        cache_read: cached,
        out: usage.completion_tokens,
        ..Default::default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cached_tokens_are_cache_reads() {
        let mut usage = Usage::new(1200, 40);
        usage.prompt_tokens_details = Some(crate::wire::openai::PromptTokensDetails { cached_tokens: 1024 });
        let t = token_usage(&usage);
        assert_eq!((t.uncached_in, t.cache_read, t.out), (176, 1024, 40));
    }
}
