"""What the Responses API tests share: a function tool in the Responses shape."""

from __future__ import annotations

from typing import Any

WEATHER: Any = {
    "type": "function",
    "name": "get_weather",
    "description": "Weather of a city",
    "parameters": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]},
}
