"""The database ledger's expiring holds: a process that died mid-request cannot lock a balance for good."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import pytest
import time_machine

from relaygate.billing.db_ledger import HOLD_SECONDS, DatabaseLedger, sweep_expired_holds
from relaygate.billing.ledger import Ledger
from relaygate.errors import InsufficientBalance
from relaygate.settings import Settings
from tests.billing.test_ledger import books_of, record, run_contract


@pytest.mark.parametrize("form", ["database/sqlite", "database/postgres"], indirect=True)
def test_an_expired_hold_is_released_once_and_a_late_settlement_still_charges(
    form: tuple[str, Settings], tmp_path: Path
) -> None:
    async def scenario(engine: Any, ledger: Ledger, user_id: int, token_id: int) -> None:
        assert isinstance(ledger, DatabaseLedger)
        orphan = await ledger.reserve(token_id, user_id, None, 900)  # its process "dies" holding 900
        with pytest.raises(InsufficientBalance):
            await ledger.reserve(token_id, user_id, None, 101)
        assert await sweep_expired_holds(engine) == 0  # not expired yet
        with time_machine.travel(time.time() + HOLD_SECONDS + 1):
            assert await sweep_expired_holds(engine) == 1
        hold = await ledger.reserve(token_id, user_id, None, 1000)  # the whole balance is free again
        await ledger.settle(hold, record(user_id, token_id, 0))
        await ledger.settle(orphan, record(user_id, token_id, 300))  # it was alive after all: charged, not re-released
        await ledger.flush()
        assert await books_of(engine, user_id, token_id) == (700, 300, True)
        with pytest.raises(InsufficientBalance):
            await ledger.reserve(token_id, user_id, None, 701)

    run_contract(form, scenario)
