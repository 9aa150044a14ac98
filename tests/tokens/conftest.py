from __future__ import annotations

from pathlib import Path

import pytest

from tests.support.deployment import Deployment

OPERATOR_ZONE = "Europe/Berlin"


@pytest.fixture
def deployment(tmp_path: Path, database_url: str) -> Deployment:
    """Each backend, as an operator in Berlin runs it: periods turn at Berlin's midnights, not UTC's."""
    return Deployment(tmp_path / "data", database_url, timezone=OPERATOR_ZONE)
