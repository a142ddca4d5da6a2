"""What the compat runs (``compat:``) share in reading the documents behind their variables:
networkd's Describe() text and NetworkManager's DHCP options, both JSON objects from a source."""

from __future__ import annotations

import json


def json_object(text: str) -> dict[str, object]:
    """*text* as a JSON object; {} for "" or anything else (the source already checked it)."""
    if not text:
        return {}
    try:
        doc = json.loads(text)
    except ValueError:
        return {}
    return doc if isinstance(doc, dict) else {}
