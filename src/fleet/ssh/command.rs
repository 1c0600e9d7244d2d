//! The remote command line: validated inputs, each argument single-quoted anyway.

use super::SshPullError;
use crate::domain::valid_model_name;

/// Builds `'ollama' 'pull' 'MODEL'` after checking both the executable and the model name;
/// nothing that fails these checks ever reaches the network.
pub fn pull_command(ollama_bin: &str, model: &str) -> Result<String, SshPullError> {
    if !valid_model_name(model) {
        return Err(SshPullError::InvalidModel {
            model: model.to_string(),
        });
    }
    if !valid_ollama_bin(ollama_bin) {
        return Err(SshPullError::InvalidOllamaBin {
            bin: ollama_bin.to_string(),
        });
    }
    Ok([ollama_bin, "pull", model].map(shell_quote).join(" "))
}

/// True for an absolute path or a bare command name made of letters, digits and `/ . _ -`,
/// starting with `/` or a letter or digit (so it can never pass for an option).
pub fn valid_ollama_bin(bin: &str) -> bool {
    let safe_chars = bin.chars().all(|c| c.is_ascii_alphanumeric() || "/._-".contains(c));
    let first_ok = bin
        .chars()
        .next()
        .is_some_and(|c| c == '/' || c.is_ascii_alphanumeric());
    let absolute_or_bare = bin.starts_with('/') || !bin.contains('/');
    bin.len() <= 512 && safe_chars && first_ok && absolute_or_bare
}

/// POSIX single-quoting: `it's` → `'it'\''s'`.
fn shell_quote(arg: &str) -> String {
    format!("'{}'", arg.replace('\'', r"'\''"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quotes_every_argument() {
        assert_eq!(
            pull_command("ollama", "qwen3:8b").ok().as_deref(),
            Some("'ollama' 'pull' 'qwen3:8b'")
        );
        assert_eq!(
            pull_command("/usr/local/bin/ollama", "hf.co/org/Model-GGUF:Q4_K_M")
                .ok()
                .as_deref(),
            Some("'/usr/local/bin/ollama' 'pull' 'hf.co/org/Model-GGUF:Q4_K_M'")
        );
        assert_eq!(shell_quote("it's"), r"'it'\''s'");
    }

    #[test]
    fn refuses_hostile_models() {
        let long = "a".repeat(200);
        for model in ["x; rm -rf ~", "$(id)", "`id`", "a\nb", long.as_str(), "--help", "'", ""] {
            assert!(
                matches!(pull_command("ollama", model), Err(SshPullError::InvalidModel { .. })),
                "{model:?}"
            );
        }
    }

    #[test]
    fn ollama_bin_must_be_absolute_or_bare_and_safe() {
        for ok in [
            "ollama",
            "/usr/local/bin/ollama",
            "/opt/homebrew/bin/ollama",
            "ollama-0.9",
        ] {
            assert!(valid_ollama_bin(ok), "{ok}");
        }
        for bad in [
            "",
            "bin/ollama",
            "-ollama",
            "ollama pull",
            "$(id)",
            "/usr/bin/ollama;id",
            "~/ollama",
            "o'llama",
        ] {
            assert!(!valid_ollama_bin(bad), "{bad:?}");
            assert!(matches!(
                pull_command(bad, "qwen3:8b"),
                Err(SshPullError::InvalidOllamaBin { .. })
            ));
        }
    }
}
