//! `farmhand fleet discover`: `tailscale status --json` turned into fleet.toml `[[nodes]]` entries.

use std::collections::{BTreeMap, HashSet};
use std::net::IpAddr;
use std::path::PathBuf;
use std::process::Command;

use anyhow::Context;
use clap::Subcommand;
use serde::{Deserialize, Serialize};

use crate::config::NodeConfig;

/// Fleet subcommands.
#[derive(Debug, Clone, Subcommand)]
pub enum FleetCommand {
    /// Print fleet.toml `[[nodes]]` entries for the tailnet's machines (from `tailscale status --json`).
    Discover {
        /// Only machines carrying this ACL tag, e.g. `tag:llm-node`.
        #[arg(long)]
        tag: Option<String>,
        /// Read the status JSON from this file instead of running `tailscale status --json`.
        #[arg(long, value_name = "FILE")]
        from: Option<PathBuf>,
    },
}

/// The parts of `tailscale status --json` discovery reads (lenient: the format may change).
#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
struct Status {
    #[serde(default)]
    backend_state: String,
    #[serde(default)]
    peer: Option<BTreeMap<String, Peer>>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
struct Peer {
    #[serde(default)]
    host_name: String,
    #[serde(rename = "DNSName", default)]
    dns_name: String,
    #[serde(rename = "TailscaleIPs", default)]
    tailscale_ips: Vec<IpAddr>,
    #[serde(default)]
    online: bool,
    #[serde(default)]
    tags: Option<Vec<String>>,
}

/// What discovery found.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Discovery {
    /// Node entries, sorted by name.
    pub nodes: Vec<NodeConfig>,
    /// Nodes that were offline when discovered (listed anyway).
    pub offline: Vec<String>,
    /// Machines left out, with why.
    pub skipped: Vec<String>,
}

/// Turns status JSON into node entries; `tag` keeps only machines carrying it (pure).
pub fn discover(status_json: &str, tag: Option<&str>) -> anyhow::Result<Discovery> {
    let status: Status = serde_json::from_str(status_json).context("not `tailscale status --json` output")?;
    if !status.backend_state.is_empty() && status.backend_state != "Running" {
        anyhow::bail!(
            "tailscale is not running here (BackendState {}): run `tailscale up` first",
            status.backend_state
        );
    }
    let mut found = Discovery {
        nodes: Vec::new(),
        offline: Vec::new(),
        skipped: Vec::new(),
    };
    let mut names = HashSet::new();
    for peer in status.peer.unwrap_or_default().into_values() {
        let dns = peer.dns_name.trim_end_matches('.');
        let label = if dns.is_empty() { peer.host_name.as_str() } else { dns };
        if let Some(tag) = tag
            && !peer.tags.as_deref().unwrap_or_default().iter().any(|t| t == tag)
        {
            found.skipped.push(format!("{label}: not tagged {tag}"));
            continue;
        }
        let host = if dns.is_empty() {
            match peer.tailscale_ips.iter().find(|ip| ip.is_ipv4()) {
                Some(ip) => ip.to_string(),
                None => {
                    found
                        .skipped
                        .push(format!("{label}: neither a MagicDNS name nor an IPv4 address"));
                    continue;
                }
            }
        } else {
            dns.to_string()
        };
        let base = node_name(dns.split('.').next().unwrap_or(""), &peer.host_name);
        let mut name = base.clone();
        let mut n = 2;
        while !names.insert(name.clone()) {
            name = format!("{base}-{n}");
            n += 1;
        }
        if !peer.online {
            found.offline.push(name.clone());
        }
        found.nodes.push(NodeConfig {
            name,
            host,
            ollama_port: None,
            agent_port: None,
            ssh_port: None,
            parallel: None,
            pull: None,
            agent_token: None,
            metrics: None,
            macmon_port: None,
        });
    }
    found.nodes.sort_by(|a, b| a.name.cmp(&b.name));
    found.offline.sort();
    Ok(found)
}

/// A node name of `a-z`, `0-9` and `-` (at most 63) from the MagicDNS label, else the host name.
fn node_name(dns_label: &str, host_name: &str) -> String {
    let source = if dns_label.is_empty() { host_name } else { dns_label };
    let mut name: String = source
        .to_ascii_lowercase()
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '-' })
        .collect();
    name = name.trim_matches('-').chars().take(63).collect();
    if name.is_empty() { "node".into() } else { name }
}

/// The discovery as fleet.toml text: a comment header, then one `[[nodes]]` table each.
pub fn to_toml(found: &Discovery) -> anyhow::Result<String> {
    #[derive(Serialize)]
    struct Nodes<'a> {
        nodes: &'a [NodeConfig],
    }
    let mut text = format!("# {} node(s) from `tailscale status --json`\n", found.nodes.len());
    for name in &found.offline {
        text.push_str(&format!("# {name} was offline when discovered\n"));
    }
    text.push_str(&toml::to_string(&Nodes { nodes: &found.nodes }).context("cannot write TOML")?);
    Ok(text)
}

/// Runs `farmhand fleet discover`.
pub fn fleet(command: &FleetCommand, as_json: bool) -> anyhow::Result<()> {
    let FleetCommand::Discover { tag, from } = command;
    let json = match from {
        Some(path) => std::fs::read_to_string(path).with_context(|| format!("cannot read {}", path.display()))?,
        None => tailscale_status()?,
    };
    let found = discover(&json, tag.as_deref())?;
    for skipped in &found.skipped {
        eprintln!("skipped {skipped}");
    }
    if as_json {
        println!("{}", serde_json::to_string_pretty(&found)?);
    } else {
        print!("{}", to_toml(&found)?);
    }
    Ok(())
}

/// `tailscale status --json`, from the CLI on PATH or the macOS app's.
fn tailscale_status() -> anyhow::Result<String> {
    const APP_CLI: &str = "/Applications/Tailscale.app/Contents/MacOS/Tailscale";
    let mut last = None;
    for program in ["tailscale", APP_CLI] {
        match Command::new(program).args(["status", "--json"]).output() {
            Ok(out) if out.status.success() => {
                return String::from_utf8(out.stdout).context("tailscale printed non-UTF-8");
            }
            Ok(out) => anyhow::bail!(
                "`tailscale status --json` failed ({}): {}",
                out.status,
                String::from_utf8_lossy(&out.stderr).trim()
            ),
            Err(err) => last = Some(err),
        }
    }
    Err(anyhow::anyhow!(
        "cannot run `tailscale` ({}): install Tailscale, or pass --from FILE with saved `tailscale status --json` output",
        last.map(|e| e.to_string()).unwrap_or_default()
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    const STATUS: &str = r#"{
      "Version": "1.96.3", "BackendState": "Running",
      "Self": {"ID": "nSELF", "HostName": "console", "DNSName": "console.tail3c9e1.ts.net.", "TailscaleIPs": ["100.64.0.1"]},
      "Peer": {
        "nodekey:01": {"ID": "n1", "HostName": "Mac mini", "DNSName": "mac07.tail3c9e1.ts.net.", "OS": "macOS",
                        "TailscaleIPs": ["100.101.7.42", "fd7a:115c:a1e0::e701:72a"], "Online": true, "Tags": ["tag:llm-node"],
                        "LastSeen": "0001-01-01T00:00:00Z"},
        "nodekey:02": {"ID": "n2", "HostName": "Mac mini", "DNSName": "mac08.tail3c9e1.ts.net.",
                        "TailscaleIPs": ["100.101.7.43"], "Online": false, "Tags": ["tag:llm-node"]},
        "nodekey:03": {"ID": "n3", "HostName": "Pixel 9", "DNSName": "pixel-9.tail3c9e1.ts.net.",
                        "TailscaleIPs": ["100.101.7.44"], "Online": true},
        "nodekey:04": {"ID": "n4", "HostName": "Build Box", "DNSName": "",
                        "TailscaleIPs": ["fd7a::1", "100.101.7.45"], "Online": true, "Tags": ["tag:llm-node"]}
      }
    }"#;

    #[test]
    fn tagged_peers_become_nodes() {
        let found = discover(STATUS, Some("tag:llm-node")).expect("discover");
        let hosts: Vec<(&str, &str)> = found.nodes.iter().map(|n| (n.name.as_str(), n.host.as_str())).collect();
        assert_eq!(
            hosts,
            [
                ("build-box", "100.101.7.45"),
                ("mac07", "mac07.tail3c9e1.ts.net"),
                ("mac08", "mac08.tail3c9e1.ts.net")
            ]
        );
        assert_eq!(found.offline, ["mac08"]);
        assert_eq!(found.skipped.len(), 1);
        let text = to_toml(&found).expect("toml");
        let parsed: toml::Value = toml::from_str(&text).expect("valid toml");
        assert_eq!(parsed["nodes"].as_array().map(Vec::len), Some(3));
        assert!(text.contains("# mac08 was offline"));
    }

    #[test]
    fn no_tag_takes_every_peer_and_null_peers_mean_none() {
        assert_eq!(discover(STATUS, None).expect("discover").nodes.len(), 4);
        let empty = discover(r#"{"BackendState":"Running","Peer":null}"#, None).expect("discover");
        assert!(empty.nodes.is_empty());
    }

    #[test]
    fn a_stopped_daemon_or_garbage_is_a_clear_error() {
        let stopped = discover(r#"{"BackendState":"NeedsLogin","Peer":null}"#, None).unwrap_err();
        assert!(stopped.to_string().contains("tailscale up"), "{stopped}");
        assert!(discover("{", None).is_err());
    }
}
