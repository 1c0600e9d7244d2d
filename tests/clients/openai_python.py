#!/usr/bin/env python3
"""farmhand's router driven by the official `openai` Python client, as a new user would drive it.

For every task class: a single tool call, parallel tool calls, parallel tool calls streamed and
reassembled by the client's streaming helper, a multi-turn conversation that sends the tool
results back, JSON schema output parsed by the client, an image part, and `n: 2`.

    python3 tests/clients/openai_python.py --base-url http://127.0.0.1:8080/v1 [--api-key KEY]

Each request carries `X-Agent-Id: python/<class>/<case>` so that the router's decision records
say which case they belong to (the router names agents that way when it has no keys). Prints one
line per case and exits 1 when any case fails. tests/official_clients.rs runs it against the
simulated farm.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import traceback
from typing import Any, Callable

import openai
from openai import OpenAI
from pydantic import BaseModel, ValidationError

CLASSES = ["routine", "reasoning", "orchestration", "sensitive", "auto"]

# The classes whose route carries `n` under the default policy: Ollama answers one choice, so
# routine work asking for two leaves the nodes for the OpenAI-kind frontier, which answers two;
# Anthropic and sensitive work (which never leaves the farm) refuse it with a 400 naming `n`.
N_CHOICES_DEFAULT = "routine,auto"

WEATHER = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "description": "Current weather of a city",
        "parameters": {
            "type": "object",
            "properties": {"city": {"type": "string"}, "days": {"type": "integer"}},
            "required": ["city", "days"],
        },
    },
}
TIME = {
    "type": "function",
    "function": {
        "name": "get_time",
        "description": "Local time in a time zone",
        "parameters": {
            "type": "object",
            "properties": {"zone": {"type": "string"}},
            "required": ["zone"],
        },
    },
}
TOOLS = {tool["function"]["name"]: tool for tool in (WEATHER, TIME)}
QUESTION = "What is the weather in Oslo, and what time is it there?"
# A 1×1 PNG.
PIXEL = (
    "data:image/png;base64,iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNkYPhf"
    "DwAChwGA60e6kgAAAABJRU5ErkJggg=="
)


class NodePick(BaseModel):
    """The structured answer asked for by the JSON schema case."""

    node: str
    free_gb: float


class Failure(Exception):
    """A case's expectation that did not hold."""


def expect(condition: bool, what: str) -> None:
    if not condition:
        raise Failure(what)


def check_schema(value: Any, schema: dict, at: str = "$") -> None:
    """Checks `value` against the JSON Schema subset the cases use (types, required, properties, enum)."""
    kinds = {
        "object": dict,
        "array": list,
        "string": str,
        "boolean": bool,
        "integer": int,
        "number": (int, float),
    }
    kind = schema.get("type")
    if kind in kinds:
        ok = isinstance(value, kinds[kind]) and not (kind in ("integer", "number") and isinstance(value, bool))
        expect(ok, f"{at} is {json.dumps(value)}, not {kind}")
    if "enum" in schema:
        expect(value in schema["enum"], f"{at} is {json.dumps(value)}, not one of {schema['enum']}")
    if isinstance(value, dict):
        properties = schema.get("properties", {})
        for name in schema.get("required", []):
            expect(name in value, f"{at} lacks the required `{name}`")
        if schema.get("additionalProperties") is False:
            extra = sorted(set(value) - set(properties))
            expect(not extra, f"{at} has properties outside the schema: {extra}")
        for name, item in value.items():
            if name in properties:
                check_schema(item, properties[name], f"{at}.{name}")


def check_calls(calls: list, names: list[str]) -> str:
    """Checks tool calls (ids, names in order, arguments valid for each tool's schema); describes them."""
    got = [call.function.name for call in calls]
    expect(got == names, f"tool calls {got}, expected {names}")
    ids = [call.id for call in calls]
    expect(all(ids) and len(set(ids)) == len(ids), f"tool call ids must be present and distinct: {ids}")
    described = []
    for call in calls:
        expect(call.type == "function", f"tool call type {call.type!r}")
        try:
            arguments = json.loads(call.function.arguments)
        except json.JSONDecodeError as err:
            raise Failure(f"{call.function.name} arguments are not JSON ({err}): {call.function.arguments!r}")
        check_schema(arguments, TOOLS[call.function.name]["function"]["parameters"], call.function.name)
        described.append(f"{call.function.name}{json.dumps(arguments, separators=(',', ':'))}")
    return ", ".join(described)


class Cases:
    """The cases for one class, sharing a client."""

    def __init__(self, client: OpenAI, task_class: str, n_choices: bool) -> None:
        self.client = client
        self.task_class = task_class
        self.n_choices = n_choices

    def headers(self, case: str) -> dict[str, str]:
        return {"X-Agent-Id": f"python/{self.task_class}/{case}"}

    def create(self, case: str, **params: Any):
        """A non-streamed completion, and the route the router reports for it."""
        raw = self.client.chat.completions.with_raw_response.create(
            model=self.task_class, extra_headers=self.headers(case), max_tokens=64, **params
        )
        return raw.parse(), raw.headers.get("x-farmhand-route", "?")

    def ask(self, tools: list, case: str):
        return self.create(case, messages=[{"role": "user", "content": QUESTION}], tools=tools)

    def tool_single(self) -> str:
        completion, route = self.ask([WEATHER], "tool_single")
        choice = completion.choices[0]
        expect(choice.finish_reason == "tool_calls", f"finish_reason {choice.finish_reason!r}")
        return f"{route}: {check_calls(choice.message.tool_calls or [], ['get_weather'])}"

    def tool_parallel(self) -> str:
        completion, route = self.ask([WEATHER, TIME], "tool_parallel")
        choice = completion.choices[0]
        expect(choice.finish_reason == "tool_calls", f"finish_reason {choice.finish_reason!r}")
        return f"{route}: {check_calls(choice.message.tool_calls or [], ['get_weather', 'get_time'])}"

    def tool_stream(self) -> str:
        trace: list[str] = []
        done: list[tuple[int, str, str]] = []
        fragments = 0
        with self.client.chat.completions.stream(
            model=self.task_class,
            messages=[{"role": "user", "content": QUESTION}],
            tools=[WEATHER, TIME],
            max_tokens=64,
            stream_options={"include_usage": True},
            extra_headers=self.headers("tool_stream"),
        ) as stream:
            for event in stream:
                if event.type == "chunk":
                    trace.extend(describe_chunk(event.chunk))
                elif event.type == "tool_calls.function.arguments.delta":
                    fragments += 1
                elif event.type == "tool_calls.function.arguments.done":
                    done.append((event.index, event.name, event.arguments))
            final = stream.get_final_completion()
        choice = final.choices[0]
        expect(choice.finish_reason == "tool_calls", f"finish_reason {choice.finish_reason!r}")
        calls = check_calls(choice.message.tool_calls or [], ["get_weather", "get_time"])
        expect(
            [(i, name) for i, name, _ in done] == [(0, "get_weather"), (1, "get_time")],
            f"arguments.done events {done}",
        )
        expect(fragments >= 2, f"{fragments} argument delta events")
        expect(final.usage is not None and final.usage.prompt_tokens > 0, f"usage {final.usage}")
        report = [f"{fragments} argument deltas reassembled: {calls}; usage {final.usage.prompt_tokens}+{final.usage.completion_tokens} tokens"]
        report.extend(f"      {line}" for line in trace)
        return "\n".join(report)

    def tool_multi_turn(self) -> str:
        messages: list = [
            {"role": "system", "content": "You answer questions about the weather."},
            {"role": "user", "content": QUESTION},
        ]
        first, _ = self.create("tool_multi_turn", messages=messages, tools=[WEATHER, TIME])
        message = first.choices[0].message
        calls = check_calls(message.tool_calls or [], ["get_weather", "get_time"])
        messages.append(message)
        for call in message.tool_calls:
            result = "4 C, cloudy in Oslo" if call.function.name == "get_weather" else "14:05 CEST in Oslo"
            messages.append({"role": "tool", "tool_call_id": call.id, "content": result})
        answer, route = self.create("tool_multi_turn", messages=messages, tools=[WEATHER, TIME])
        choice = answer.choices[0]
        expect(choice.finish_reason in ("stop", "length"), f"finish_reason {choice.finish_reason!r} after the results")
        expect(not choice.message.tool_calls, f"tool calls again after the results: {choice.message.tool_calls}")
        expect(bool(choice.message.content), "no text after the tool results")
        return f"{route}: {calls} → results → {choice.message.content[:60]!r}"

    def json_schema(self) -> str:
        raw = self.client.chat.completions.with_raw_response.parse(
            model=self.task_class,
            messages=[{"role": "user", "content": "Which node has the most free memory?"}],
            response_format=NodePick,
            max_tokens=64,
            extra_headers=self.headers("json_schema"),
        )
        completion = raw.parse()
        message = completion.choices[0].message
        expect(completion.choices[0].finish_reason == "stop", f"finish_reason {completion.choices[0].finish_reason!r}")
        expect(isinstance(message.parsed, NodePick), f"parsed {message.parsed!r}")
        check_schema(json.loads(message.content), NodePick.model_json_schema())
        return f"{raw.headers.get('x-farmhand-route', '?')}: {message.content}"

    def image(self) -> str:
        completion, route = self.create(
            "image",
            messages=[
                {
                    "role": "user",
                    "content": [
                        {"type": "text", "text": "What is in this picture?"},
                        {"type": "image_url", "image_url": {"url": PIXEL}},
                    ],
                }
            ],
        )
        choice = completion.choices[0]
        expect(choice.finish_reason in ("stop", "length"), f"finish_reason {choice.finish_reason!r}")
        expect(bool(choice.message.content), "no text about the image")
        return f"{route}: {choice.message.content[:60]!r}"

    def n_two(self) -> str:
        messages = [{"role": "user", "content": "Name a colour."}]
        try:
            completion, route = self.create("n_two", messages=messages, n=2)
        except openai.BadRequestError as err:
            expect(not self.n_choices, f"refused ({err.message}) where two choices were expected")
            expect(err.status_code == 400, f"status {err.status_code}")
            expect(err.param == "n", f"param {err.param!r}, expected 'n'")
            expect("`n`" in err.message, f"the message does not name `n`: {err.message}")
            return f"400 {err.code}: {err.message}"
        indices = [choice.index for choice in completion.choices]
        expect(self.n_choices, f"{route} answered {len(indices)} choice(s) where a 400 naming `n` was expected")
        expect(indices == [0, 1], f"{route} answered choices {indices}, expected [0, 1]")
        expect(all(choice.message.content for choice in completion.choices), "an empty choice")
        return f"{route}: two choices"


def describe_chunk(chunk) -> list[str]:
    """One line per tool-call delta or finish reason of a streamed chunk, as the client received it."""
    lines = []
    for choice in chunk.choices:
        for call in choice.delta.tool_calls or []:
            parts = [f"tool_calls[{call.index}]"]
            if call.id:
                parts.append(f"id={call.id}")
            if call.function and call.function.name:
                parts.append(f"name={call.function.name}")
            if call.function and call.function.arguments:
                parts.append(f"arguments+={call.function.arguments!r}")
            lines.append(" ".join(parts))
        if choice.finish_reason:
            lines.append(f"finish_reason={choice.finish_reason}")
    if chunk.usage:
        lines.append(f"usage prompt={chunk.usage.prompt_tokens} completion={chunk.usage.completion_tokens}")
    return lines


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--base-url", default=os.environ.get("OPENAI_BASE_URL"), help="the router's /v1 URL")
    parser.add_argument("--api-key", default=os.environ.get("OPENAI_API_KEY") or "no-key-on-loopback")
    parser.add_argument("--classes", default=",".join(CLASSES), help="comma-separated task classes")
    parser.add_argument(
        "--n-choices",
        default=N_CHOICES_DEFAULT,
        help=f"classes whose route answers `n: 2` with two choices; the rest must refuse it (default {N_CHOICES_DEFAULT})",
    )
    args = parser.parse_args()
    if not args.base_url:
        parser.error("--base-url (or OPENAI_BASE_URL) is required")
    client = OpenAI(base_url=args.base_url, api_key=args.api_key, max_retries=0, timeout=60)
    n_choices = set(filter(None, args.n_choices.split(",")))
    print(f"openai-python {openai.__version__} against {args.base_url}")
    passed = failed = 0
    for task_class in filter(None, args.classes.split(",")):
        cases = Cases(client, task_class, task_class in n_choices)
        runs: list[tuple[str, Callable[[], str]]] = [
            ("tool_single", cases.tool_single),
            ("tool_parallel", cases.tool_parallel),
            ("tool_stream", cases.tool_stream),
            ("tool_multi_turn", cases.tool_multi_turn),
            ("json_schema", cases.json_schema),
            ("image", cases.image),
            ("n_two", cases.n_two),
        ]
        for name, run in runs:
            try:
                detail = run()
            except Failure as err:
                failed += 1
                print(f"FAIL {task_class:<13} {name:<15} {err}")
            except openai.APIStatusError as err:
                failed += 1
                print(f"FAIL {task_class:<13} {name:<15} {type(err).__name__} {err.status_code}: {err.message}")
            except (openai.OpenAIError, ValidationError) as err:  # the client's own checks of an answer
                failed += 1
                print(f"FAIL {task_class:<13} {name:<15} {type(err).__name__}: {' '.join(str(err).split())}")
            except Exception:  # a crash in one case is reported and the others still run
                failed += 1
                print(f"FAIL {task_class:<13} {name:<15} {traceback.format_exc().strip()}")
            else:
                passed += 1
                print(f"PASS {task_class:<13} {name:<15} {detail}")
    print(f"python: {passed} passed, {failed} failed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
