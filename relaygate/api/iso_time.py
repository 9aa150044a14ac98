"""Times in query strings are ISO-8601 text: pydantic alone would also read `0.5` as a Unix time."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from pydantic import BeforeValidator


def _iso_text_only(value: Any) -> Any:
    if isinstance(value, str) and value.strip().lstrip("+-").replace(".", "", 1).isdigit():
        raise ValueError("give an ISO-8601 time such as 2026-01-31T00:00:00Z, not a number")
    if isinstance(value, int | float):
        raise ValueError("give an ISO-8601 time such as 2026-01-31T00:00:00Z, not a number")
    return value


IsoTime = Annotated[datetime, BeforeValidator(_iso_text_only)]
