"""Wall-clock time in one place, so tests can freeze it."""

import time
from datetime import UTC, datetime


def now() -> int:
    """Current Unix time in whole seconds."""
    return int(time.time())


def unix_seconds(moment: datetime | None) -> int | None:
    """A datetime as Unix seconds; one without a zone is taken as UTC."""
    if moment is None:
        return None
    return int((moment if moment.tzinfo else moment.replace(tzinfo=UTC)).timestamp())
