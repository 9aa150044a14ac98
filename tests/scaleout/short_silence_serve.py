"""`relaygate serve` whose database ledger takes a process silent for SHORT_SILENCE_MS for dead (production:
db_ledger.SILENCE_MS, 30 s), beating every SHORT_BEAT_SECONDS: the crash test waits out the silence instead
of half a minute. Run as a script with the arguments of `python -m relaygate` (tests/support/processes.py)."""

from __future__ import annotations

import sys
from pathlib import Path

SHORT_SILENCE_MS = 12_000  # longer than a restart takes on a loaded machine: the holds are seen still held first
SHORT_BEAT_SECONDS = 1.0  # a dozen beats per silence, as production has six

COMMAND = (sys.executable, str(Path(__file__).resolve()))

if __name__ == "__main__":
    sys.path.pop(0)  # this directory, put first by running the file: the server imports nothing from it
    from relaygate.billing import db_ledger
    from relaygate.cli.main import main

    db_ledger.SILENCE_MS = SHORT_SILENCE_MS  # both read at each beat and each sweep
    db_ledger.BEAT_SECONDS = SHORT_BEAT_SECONDS
    main()
