//! Ollama model names, checked against a strict pattern before they reach a URL or a remote command.

/// The longest model name farmhand accepts.
pub const MAX_MODEL_NAME: usize = 160;

/// True for `[host/][namespace/]model[:tag]` made of letters, digits, `.`, `_` and `-`,
/// each part starting with a letter or digit (so nothing can pass for a command-line option).
pub fn valid_model_name(name: &str) -> bool {
    if name.is_empty() || name.len() > MAX_MODEL_NAME {
        return false;
    }
    let (path, tag) = match name.rsplit_once(':') {
        Some((path, tag)) => (path, Some(tag)),
        None => (name, None),
    };
    let part_ok = |part: &str| {
        let mut chars = part.chars();
        matches!(chars.next(), Some(c) if c.is_ascii_alphanumeric())
            && chars.all(|c| c.is_ascii_alphanumeric() || "._-".contains(c))
    };
    let parts: Vec<&str> = path.split('/').collect();
    parts.len() <= 3 && parts.iter().all(|p| part_ok(p)) && tag.is_none_or(|t| t.len() <= 128 && part_ok(t))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_real_names() {
        for name in [
            "llama3.1:8b",
            "qwen3:14b",
            "nomic-embed-text",
            "library/qwen3:32b-q4_K_M",
            "registry.ollama.ai/library/llama3:latest",
            "hf.co/bartowski/Qwen3-8B-GGUF:Q4_K_M",
        ] {
            assert!(valid_model_name(name), "{name}");
        }
    }

    #[test]
    fn refuses_hostile_names() {
        let long = "a".repeat(MAX_MODEL_NAME + 1);
        for name in [
            "",
            "x; rm -rf ~",
            "$(id)",
            "`id`",
            "a\nb",
            "-rf",
            "llama:--help",
            "../etc/passwd",
            "a b",
            "a/b/c/d",
            "a:",
            ":b",
            "a'b",
            "a\"b",
            long.as_str(),
        ] {
            assert!(!valid_model_name(name), "{name:?}");
        }
    }
}
