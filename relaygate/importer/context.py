"""What every kind's import shares: the source rows, the import map, the report, the progress bar."""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any, TypeVar

import click

from relaygate.channels.crypto import SecretBox
from relaygate.importer.mapping import ImportMap
from relaygate.importer.report import KindReport, Report
from relaygate.importer.source import SourceData

T = TypeVar("T")


class Progress:
    """A progress bar per kind on a terminal (stderr, so the report on stdout stays clean)."""

    def __init__(self, enabled: bool):
        self.enabled = enabled and sys.stderr.isatty()

    def each(self, label: str, items: Sequence[T]) -> Iterator[T]:
        if not self.enabled or not items:
            yield from items
            return
        with click.progressbar(items, label=label.ljust(12), file=sys.stderr) as bar:
            yield from bar


@dataclass
class ImportContext:
    source: SourceData
    map: ImportMap
    report: Report
    progress: Progress
    box: SecretBox
    keep_root: bool = False
    known_groups: set[str] = field(default_factory=set)  # groups seen to exist: one query each, not one a row

    @property
    def kind(self) -> str:
        return self.source.kind

    def part(self, name: str) -> KindReport:
        return self.report.kind(name)

    def json_option(self, name: str, part: str) -> dict[str, Any]:
        """An option holding a JSON object (ModelRatio, GroupRatio, ...), numbers as exact Decimals;
        one that is not valid JSON is reported under `part`."""
        text = self.source.options().get(name, "")
        if not text.strip():
            return {}
        try:
            value = json.loads(text, parse_float=Decimal, parse_int=Decimal)
        except json.JSONDecodeError:
            self.part(part).notes.append(f"the option {name} is not valid JSON: not imported")
            return {}
        return value if isinstance(value, dict) else {}


def is_deleted(row: dict[str, Any]) -> bool:
    """new-api deletes softly (`deleted_at`); one-api marks deleted users with status 3."""
    return row.get("deleted_at") is not None


def split_list(text: object, separator: str = ",") -> list[str]:
    """Their comma (or newline) separated lists, without blanks and duplicates, in order."""
    seen: dict[str, None] = {}
    for part in str(text or "").split(separator):
        part = part.strip()
        if part:
            seen[part] = None
    return list(seen)
