"""The real NetworkManager's recorded signals and replies (tests/unit/data/networkmanager)."""

import json
from pathlib import Path

from dbus_fast import Variant

DATA = Path(__file__).parent.parent / "data" / "networkmanager"


def variants(value):
    """The recording's {"variant": sig, "value": v} back into dbus-fast Variants."""
    if isinstance(value, dict) and set(value) == {"variant", "value"}:
        return Variant(value["variant"], variants(value["value"]))
    if isinstance(value, dict) and set(value) == {"bytes"}:
        return bytes.fromhex(value["bytes"])
    if isinstance(value, dict):
        return {k: variants(v) for k, v in value.items()}
    if isinstance(value, list):
        return [variants(v) for v in value]
    return value


def phases() -> dict[str, list[dict]]:
    """{phase name: its messages in arrival order}."""
    found: dict[str, list[dict]] = {}
    current: list[dict] = []
    for line in (DATA / "signals.jsonl").read_text().splitlines():
        item = json.loads(line)
        if "phase" in item:
            current = found.setdefault(item["phase"], [])
        else:
            current.append(variants(item))
    return found


def signals() -> list[dict]:
    return [m for messages in phases().values() for m in messages]


def replies() -> dict[str, dict]:
    return variants(json.loads((DATA / "replies.json").read_text()))
