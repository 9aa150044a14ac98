"""Changing a few top-level fields of a JSON request body on its way upstream, cheaply.

Most requests need one field added (the output limit) and nothing else: when every changed field
is absent from the body, the client's bytes are kept and the fields appended inside their closing
brace, instead of serialising the whole body again (a large prompt costs as much to re-encode as
to relay).
"""

from __future__ import annotations

from typing import Any

import orjson


def with_fields(body: dict[str, Any], raw: bytes, changes: dict[str, Any]) -> bytes:
    """`raw` (the encoding of `body`) with the top-level fields in `changes` set."""
    changes = {name: value for name, value in changes.items() if body.get(name, _ABSENT) != value}
    if not changes:
        return raw
    head = raw.rstrip()
    if any(name in body for name in changes) or not head.endswith(b"}"):
        return orjson.dumps({**body, **changes})
    inner = head[:-1].rstrip()
    added = orjson.dumps(changes)[1:-1]
    return inner + (added if inner.endswith(b"{") else b"," + added) + b"}"


_ABSENT = object()
