"""The nesting-depth guard every JSON body passes before anything reads it.

Code that walks a request (token estimates, conversions, validation) recurses, so a body nested a
few hundred levels deep would otherwise end in a RecursionError deep inside it: refused here instead.
"""

from __future__ import annotations

from typing import Any

MAX_JSON_DEPTH = 64  # far above any real request (OpenAI caps structured-output schemas at 10 levels)


def json_depth_over_limit(value: Any, limit: int = MAX_JSON_DEPTH, raw: bytes | None = None) -> bool:
    """Whether `value` (parsed JSON) nests objects and arrays more than `limit` levels deep.

    `raw`, the document `value` was parsed from, spares the walk when it opens too few objects and
    arrays to nest that deep (most requests): counting brackets is far cheaper than walking.
    """
    if raw is not None and raw.count(b"{") + raw.count(b"[") <= limit:
        return False
    stack: list[tuple[Any, int]] = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, dict):
            children: Any = item.values()
        elif isinstance(item, list):
            children = item
        else:
            continue
        if depth > limit:
            return True
        stack.extend((child, depth + 1) for child in children if isinstance(child, dict | list))
    return False


def too_deep_message(limit: int = MAX_JSON_DEPTH) -> str:
    return f"The request body nests JSON objects and arrays more than {limit} levels deep: flatten it."


def is_depth_error(error: ValueError) -> bool:
    """Whether orjson refused a document for its depth (it stops at 1024 levels by itself)."""
    return "depth limit" in str(error)
