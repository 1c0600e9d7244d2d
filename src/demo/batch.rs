//! The demo's bulk agent: a minute in, it submits a batch of ticket classifications through the real
//! Batch API (an upload, then a batch), as an agent with the OpenAI SDK would, and leaves it to
//! drain through the farm's idle slots while the live agents keep calling.

use anyhow::Context;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use serde_json::{Value, json};

/// Tickets in the demo's batch.
pub const TICKETS: usize = 2_000;
/// How long after the live agents start the batch is submitted.
pub const SUBMIT_AFTER: std::time::Duration = std::time::Duration::from_secs(60);

/// What the synthetic tickets are about.
const SUBJECTS: &[&str] = &[
    "my invoice shows the wrong VAT rate",
    "the export to CSV times out after a minute",
    "I cannot reset my password from the mobile app",
    "the dashboard shows yesterday's numbers",
    "please cancel the extra seat we added last week",
    "webhook deliveries fail with a 410",
    "the new SSO login loops back to the start page",
    "a colleague left and we need their files moved",
    "search does not find documents uploaded today",
    "the monthly report is missing the EMEA region",
];

/// How the tickets are to be labelled.
const INSTRUCTION: &str =
    "Classify the support ticket as one of: billing, bug, account, feature_request. Answer with the label only.";

/// The batch's input: one JSONL line per ticket, class `routine`, custom ids `ticket-1`…
pub fn input_file(tickets: usize, seed: u64) -> String {
    let mut rng = StdRng::seed_from_u64(seed);
    let mut file = String::with_capacity(tickets * 320);
    for i in 1..=tickets {
        let subject = SUBJECTS[rng.random_range(0..SUBJECTS.len())];
        let line = json!({
            "custom_id": format!("ticket-{i}"),
            "method": "POST",
            "url": "/v1/chat/completions",
            "body": {
                "model": "routine",
                "messages": [
                    {"role": "system", "content": INSTRUCTION},
                    {"role": "user", "content": format!("Ticket #{}: {subject}.", 40_000 + i)}
                ],
                "max_tokens": 4
            }
        });
        file.push_str(&line.to_string());
        file.push('\n');
    }
    file
}

/// Uploads the demo's tickets and starts a batch on them at `router_url`; returns the batch id.
pub async fn submit(router_url: &str, tickets: usize) -> anyhow::Result<String> {
    let client = crate::net::http_client().build().unwrap_or_default();
    let part = reqwest::multipart::Part::bytes(input_file(tickets, 11).into_bytes())
        .file_name("tickets.jsonl")
        .mime_str("application/jsonl")
        .context("the upload's content type")?;
    let form = reqwest::multipart::Form::new()
        .text("purpose", "batch")
        .part("file", part);
    let file: Value = client
        .post(format!("{router_url}/v1/files"))
        .multipart(form)
        .send()
        .await
        .context("cannot upload the demo's tickets")?
        .error_for_status()
        .context("the router refused the demo's tickets")?
        .json()
        .await
        .context("the upload's answer")?;
    let file_id = file["id"].as_str().context("the upload's answer has no file id")?;
    let batch: Value = client
        .post(format!("{router_url}/v1/batches"))
        .json(&json!({
            "input_file_id": file_id,
            "endpoint": "/v1/chat/completions",
            "completion_window": "24h",
            "metadata": {"source": "farmhand demo"}
        }))
        .send()
        .await
        .context("cannot start the demo's batch")?
        .error_for_status()
        .context("the router refused the demo's batch")?
        .json()
        .await
        .context("the batch's answer")?;
    batch["id"]
        .as_str()
        .map(str::to_string)
        .context("the batch's answer has no id")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_input_is_one_valid_line_per_ticket() {
        let file = input_file(50, 3);
        let lines: Vec<Value> = file.lines().map(|l| serde_json::from_str(l).expect("JSON")).collect();
        assert_eq!(lines.len(), 50);
        assert_eq!(lines[0]["custom_id"], "ticket-1");
        assert_eq!(lines[49]["body"]["model"], "routine");
        assert_eq!(input_file(50, 3), file, "the same seed gives the same tickets");
    }
}
