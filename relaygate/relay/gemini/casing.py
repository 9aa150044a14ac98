"""Reading Gemini JSON in either spelling: protobuf JSON accepts `maxOutputTokens` and `max_output_tokens`.

Real Gemini takes both, and clients send both (litellm's `gemini/` provider sends snake_case), so
every read of a Gemini field goes through `field`, which takes the camelCase name.
"""

from __future__ import annotations

import re
from functools import lru_cache
from typing import Any

_CAPITAL = re.compile(r"(?<!^)([A-Z])")


@lru_cache(maxsize=256)
def snake_case(name: str) -> str:
    return _CAPITAL.sub(r"_\1", name).lower()


def field(value: Any, name: str) -> Any:
    """`value[name]` (camelCase), else its snake_case spelling; None when `value` is no object or has neither."""
    if not isinstance(value, dict):
        return None
    found = value.get(name)
    return found if found is not None else value.get(snake_case(name))


def object_field(value: Any, name: str) -> dict[str, Any]:
    """The object `field` finds, or an empty one in place of anything else."""
    found = field(value, name)
    return found if isinstance(found, dict) else {}


def schema_keys(schema: Any) -> Any:
    """A Gemini schema with its own keywords in camelCase (`any_of` -> `anyOf`), property names untouched."""
    if isinstance(schema, list):
        return [schema_keys(item) for item in schema]
    if not isinstance(schema, dict):
        return schema
    return {
        _camel(key): (
            {name: schema_keys(item) for name, item in value.items()}
            if key == "properties" and isinstance(value, dict)
            else schema_keys(value)
        )
        for key, value in schema.items()
    }


def _camel(name: str) -> str:
    head, *rest = name.split("_")
    return head + "".join(word[:1].upper() + word[1:] for word in rest)
