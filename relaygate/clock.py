"""Wall-clock time in one place, so tests can freeze it."""

import time


def now() -> int:
    """Current Unix time in whole seconds."""
    return int(time.time())
