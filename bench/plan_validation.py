"""Time per message of checking against a tracking plan (segadmin/segment/plans.py).

A 200-event plan (each Track rule with eight properties using what Protocols plans use: a
required string, a number with a minimum, an enum, a pattern, text-or-null, a date-time, an
array of objects with a required field, a nested object; every tenth event with a second
version), an Identify rule and a common schema. 10,000 messages: conforming Track calls,
Track calls with violations, unplanned events, unplanned properties, versioned events and
Identify calls. Each message is timed alone (``check`` plus ``segment_would``) with cached
validators, after one untimed pass that compiles them; the same run also times the first,
compiling pass and a few hundred checks that compile their rule every time.

    .venv/bin/python bench/plan_validation.py [--messages 10000] [--events 200] [--seed 7]

Every run checks the findings (no conforming message has one, every broken one has its
violations), so a faster check cannot win by finding less.
"""

from __future__ import annotations

import argparse
import dataclasses
import random
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from segadmin.segment import plans  # noqa: E402
from segadmin.segment.messages import build_message  # noqa: E402

ZERO = "0001-01-01T00:00:00.000Z"
SETTINGS = {
    "track": {
        "allowUnplannedEvents": False,
        "allowUnplannedEventProperties": False,
        "allowEventOnViolations": True,
        "allowPropertiesOnViolations": False,
        "commonEventOnViolations": "ALLOW",
    },
    "identify": {"allowUnplannedTraits": True, "allowTraitsOnViolations": True},
}


def wrapped(fields_key: str, properties: dict, required: list[str]) -> dict:
    return {
        "$schema": "http://json-schema.org/draft-07/schema#",
        "type": "object",
        "labels": {},
        "properties": {
            "context": {},
            "traits": {},
            "properties": {},
            fields_key: {"type": "object", "properties": properties, "required": required},
        },
    }


def event_properties(n: int, version: int) -> tuple[dict, list[str]]:
    def prop(name: str, schema: dict) -> tuple[str, dict]:
        return name, {"id": f"/properties/properties/properties/{name}", **schema}

    properties = dict(
        [
            prop(f"id_{n}", {"type": ["string"]}),
            prop("amount", {"type": ["number"], "minimum": 0}),
            prop("plan", {"type": ["string"], "enum": ["free", "pro", "team"]}),
            prop("sku", {"type": ["string"], "pattern": "^[A-Z]{3}-\\d{1,6}$"}),
            prop("coupon", {"type": ["string", "null"]}),
            prop("at", {"type": ["string"], "format": "date-time"}),
            prop(
                "items",
                {
                    "type": ["array"],
                    "items": {
                        "type": "object",
                        "properties": {"sku": {"type": "string"}, "qty": {"type": "integer"}},
                        "required": ["sku"],
                    },
                },
            ),
            prop(
                "shipping",
                {
                    "type": ["object"],
                    "properties": {"city": {"type": "string"}, "zip": {"type": "string"}},
                },
            ),
        ]
    )
    required = [f"id_{n}", "amount"] + (["plan"] if version == 2 else [])
    return properties, required


def build_plan(events: int) -> plans.Plan:
    rules = []
    for n in range(events):
        for version in (1, 2) if n % 10 == 0 else (1,):
            properties, required = event_properties(n, version)
            rules.append(
                {
                    "type": "TRACK",
                    "key": f"Event {n:03d}",
                    "version": version,
                    "jsonSchema": wrapped("properties", properties, required),
                    "deprecatedAt": ZERO,
                }
            )
    traits = {name: {"type": ["string", "null"]} for name in ("email", "name", "company")}
    traits["age"] = {"type": ["integer"], "minimum": 0}
    traits["plan"] = {"type": ["string"], "enum": ["free", "pro", "team"]}
    rules.append({"type": "IDENTIFY", "version": 1, "jsonSchema": wrapped("traits", traits, [])})
    common = {
        "$schema": "http://json-schema.org/draft-07/schema#",
        "type": "object",
        "properties": {
            "context": {
                "type": "object",
                "properties": {"userAgent": {"type": "string", "not": {"pattern": "(bot|crawl)"}}},
            }
        },
    }
    rules.append({"type": "COMMON", "key": None, "version": 1, "jsonSchema": common})
    return plans.Plan.from_api({"id": "tp_bench", "name": "Bench plan"}, rules)


def conforming(n: int, rng: random.Random) -> dict:
    return {
        f"id_{n}": f"o-{rng.randrange(10**6)}",
        "amount": round(rng.uniform(0, 500), 2),
        "plan": rng.choice(["free", "pro", "team"]),
        "sku": f"ABC-{rng.randrange(10**5)}",
        "coupon": rng.choice([None, "SPRING"]),
        "at": "2026-05-01T09:30:00Z",
        "items": [{"sku": f"S{i}", "qty": i + 1} for i in range(rng.randrange(1, 4))],
        "shipping": {"city": "Paris", "zip": "75001"},
    }


def make_messages(count: int, events: int, seed: int) -> list[tuple[str, str, dict, bool]]:
    """(call type, kind, message, expect findings) in a fixed random mix."""
    rng = random.Random(seed)
    context = {"userAgent": "Mozilla/5.0"}
    out = []
    for _ in range(count):
        n = rng.randrange(events)
        roll = rng.random()
        properties = conforming(n, rng)
        event = f"Event {n:03d}"
        kind, broken, message_context = "conforming", False, dict(context)
        if roll < 0.20:
            kind, broken = "violations", True
            properties["amount"] = "12"
            properties["plan"] = "gold"
            del properties[f"id_{n}"]
        elif roll < 0.25:
            kind, broken, event = "unplanned event", True, f"event {n:03d}"
        elif roll < 0.30:
            kind, broken = "unplanned properties", True
            properties["gift_wrap"] = True
        elif roll < 0.35 and n % 10 == 0:
            kind = "version 2"
            message_context["protocols"] = {"event_version": 2}
        elif roll >= 0.90:
            traits = {"email": "a@example.com", "age": rng.randrange(18, 90), "plan": "pro"}
            message = build_message("identify", user_id="u1", traits=traits, context=context)
            out.append(("identify", "identify", message, False))
            continue
        message = build_message(
            "track", user_id="u1", event=event, properties=properties, context=message_context
        )
        out.append(("track", kind, message, broken))
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--messages", type=int, default=10_000)
    parser.add_argument("--events", type=int, default=200)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--uncached", type=int, default=300, help="checks that compile anew")
    parser.add_argument(
        "--no-fast-path",
        action="store_true",
        help="check with jsonschema alone (the fastjsonschema yes/no check switched off)",
    )
    args = parser.parse_args()

    messages = make_messages(args.messages, args.events, args.seed)
    plan = build_plan(args.events)
    plans._compile.cache_clear()

    started = time.perf_counter()
    for call_type, _, message, _ in messages:  # the untimed pass: compiles every rule used
        plans.check(plan, call_type, message)
    first_pass = time.perf_counter() - started
    if args.no_fast_path:
        for slot, compiled in plan._compiled.items():
            plan._compiled[slot] = dataclasses.replace(compiled, fast_schema=None, conforms=None)

    timings: dict[str, list[float]] = {}
    every: list[float] = []
    for call_type, kind, message, broken in messages:
        started = time.perf_counter_ns()
        findings = plans.check(plan, call_type, message)
        plans.segment_would(SETTINGS, call_type, findings)
        elapsed = (time.perf_counter_ns() - started) / 1000
        if bool(findings) != broken:
            raise SystemExit(f"{kind} message has findings {findings!r}: the check is wrong")
        every.append(elapsed)
        timings.setdefault(kind, []).append(elapsed)

    uncached = []
    fresh = build_plan(args.events)
    for call_type, _, message, _ in messages[: args.uncached]:
        fresh._compiled.clear()  # as if neither the plan nor the process had compiled it
        plans._compile.cache_clear()
        started = time.perf_counter_ns()
        plans.check(fresh, call_type, message)
        uncached.append((time.perf_counter_ns() - started) / 1000)

    rules = len(plan.rules)
    print(f"plan: {args.events} events, {rules} rules; {len(messages)} messages")
    print(f"first pass (compiles each rule once): {first_pass * 1000:.0f} ms in all")
    print(f"{'messages':<22}{'count':>7}{'median µs':>11}{'p95 µs':>9}")
    for kind in sorted(timings, key=lambda k: -len(timings[k])):
        values = timings[kind]
        p95 = statistics.quantiles(values, n=20)[-1] if len(values) > 1 else values[0]
        print(f"{kind:<22}{len(values):>7}{statistics.median(values):>11.1f}{p95:>9.1f}")
    p95 = statistics.quantiles(every, n=20)[-1]
    print(f"{'all, cached':<22}{len(every):>7}{statistics.median(every):>11.1f}{p95:>9.1f}")
    print(f"{'all, compiled anew':<22}{len(uncached):>7}{statistics.median(uncached):>11.1f}")
    print(f"goal: median ≤ 2000 µs per message; {len(messages) / (sum(every) / 1e6):,.0f} msg/s")


if __name__ == "__main__":
    main()
