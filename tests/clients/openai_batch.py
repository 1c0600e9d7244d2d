#!/usr/bin/env python3
"""farmhand's Batch API driven by the official `openai` Python client, as a new user would drive it.

Uploads a JSONL input file with `files.create(purpose="batch")`, reads it back with
`files.retrieve` and `files.content`, creates a batch on it with `batches.create`, finds it with
`batches.retrieve` and `batches.list` (paging one batch at a time), and then either cancels it
(`--then cancel`, the default) or waits for it to end and reads its output file
(`--then wait`).

    python3 tests/clients/openai_batch.py --base-url http://127.0.0.1:8080/v1 --input FILE \
        [--api-key KEY] [--then cancel|wait] [--wait-secs 120]

Prints one line per step and, last, a JSON summary (`{"file_id", "batch_id", "status", ...}`);
exits 1 when any step fails. tests/batch_api.rs runs it against the simulated farm.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
import traceback
from typing import Any

from openai import OpenAI


class StepFailed(Exception):
    """A step saw something other than what OpenAI's Batch API would answer."""


def check(condition: bool, what: str) -> None:
    if not condition:
        raise StepFailed(what)


def custom_ids(jsonl: bytes) -> list[str]:
    return [json.loads(line)["custom_id"] for line in jsonl.decode().splitlines() if line.strip()]


def run(client: OpenAI, path: str, then: str, wait_secs: float) -> dict[str, Any]:
    with open(path, "rb") as f:
        original = f.read()
    expected_ids = custom_ids(original)

    with open(path, "rb") as f:
        uploaded = client.files.create(file=f, purpose="batch")
    check(uploaded.id.startswith("file-"), f"file id {uploaded.id!r}")
    check(uploaded.purpose == "batch" and uploaded.bytes == len(original), f"uploaded {uploaded!r}")
    print(f"files.create: {uploaded.id} ({uploaded.bytes} bytes)")

    retrieved = client.files.retrieve(uploaded.id)
    check(retrieved.id == uploaded.id and retrieved.bytes == len(original), f"retrieved {retrieved!r}")
    content = client.files.content(uploaded.id).read()
    check(content == original, "files.content gave back other bytes than were uploaded")
    print(f"files.retrieve + files.content: {len(content)} bytes, identical")

    batch = client.batches.create(
        input_file_id=uploaded.id,
        endpoint="/v1/chat/completions",
        completion_window="24h",
        metadata={"suite": "batch_api"},
    )
    check(batch.id.startswith("batch_"), f"batch id {batch.id!r}")
    check(batch.status == "in_progress", f"new batch status {batch.status!r} (errors: {batch.errors!r})")
    check(batch.request_counts is not None and batch.request_counts.total == len(expected_ids), f"counts {batch.request_counts!r}")
    check(batch.metadata == {"suite": "batch_api"} and batch.input_file_id == uploaded.id, f"created {batch!r}")
    print(f"batches.create: {batch.id} {batch.status}, {batch.request_counts.total} requests")

    again = client.batches.retrieve(batch.id)
    check(again.id == batch.id and again.endpoint == "/v1/chat/completions", f"retrieved {again!r}")
    listed = [b.id for b in client.batches.list(limit=1)]
    check(batch.id in listed, f"batches.list (paged by 1) did not list {batch.id}: {listed}")
    print(f"batches.retrieve + batches.list: found among {len(listed)} batch(es)")

    summary: dict[str, Any] = {"file_id": uploaded.id, "batch_id": batch.id, "listed": len(listed)}
    if then == "cancel":
        cancelled = client.batches.cancel(batch.id)
        check(cancelled.status in ("cancelling", "cancelled"), f"cancel gave status {cancelled.status!r}")
        check(cancelled.cancelling_at is not None, f"cancel set no cancelling_at: {cancelled!r}")
        print(f"batches.cancel: {cancelled.status}")
        summary["status"] = cancelled.status
        return summary

    deadline = time.monotonic() + wait_secs
    while batch.status not in ("completed", "failed", "expired", "cancelled"):
        check(time.monotonic() < deadline, f"{batch.id} still {batch.status} after {wait_secs} s: {batch.request_counts!r}")
        time.sleep(0.5)
        batch = client.batches.retrieve(batch.id)
    check(batch.status == "completed", f"{batch.id} ended {batch.status}")
    check(batch.output_file_id is not None, f"completed without an output file: {batch!r}")
    output = client.files.content(batch.output_file_id).read()
    lines = [json.loads(line) for line in output.decode().splitlines() if line.strip()]
    check(sorted(line["custom_id"] for line in lines) == sorted(expected_ids), "the output does not hold every custom_id once")
    for line in lines:
        check(line["response"]["status_code"] == 200, f"line {line['custom_id']}: {line['response']!r}")
        check(line["response"]["body"]["choices"], f"line {line['custom_id']} has no choices")
    print(f"output file {batch.output_file_id}: {len(lines)} answered lines")
    summary.update(status=batch.status, output_lines=len(lines))
    return summary


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--base-url", required=True, help="the router's /v1 URL")
    parser.add_argument("--api-key", default="no-key", help="an agent key, when the router has keys")
    parser.add_argument("--input", required=True, help="a JSONL batch input file")
    parser.add_argument("--then", choices=["cancel", "wait"], default="cancel")
    parser.add_argument("--wait-secs", type=float, default=120.0)
    args = parser.parse_args()
    client = OpenAI(base_url=args.base_url, api_key=args.api_key, max_retries=0)
    try:
        summary = run(client, args.input, args.then, args.wait_secs)
    except Exception:  # noqa: BLE001 - every failure is reported the same way
        traceback.print_exc()
        return 1
    print(json.dumps(summary))
    return 0


if __name__ == "__main__":
    sys.exit(main())
