"""What an import did, kind by kind: counts, what was skipped and why, and what to check by hand."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

KINDS = ("groups", "prices", "users", "tokens", "channels", "redemptions", "logs")


@dataclass
class KindReport:
    imported: int = 0
    already: int = 0  # imported by an earlier run of the same source
    skipped: list[dict[str, str]] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)  # imported, but not quite as it was: look at these

    def skip(self, source_id: object, reason: str) -> None:
        self.skipped.append({"id": str(source_id), "reason": reason})

    def as_dict(self) -> dict[str, Any]:
        return {
            "imported": self.imported,
            "already_imported": self.already,
            "skipped": self.skipped,
            "notes": self.notes,
        }


@dataclass
class Report:
    source_kind: str
    source: str
    dry_run: bool
    kinds: dict[str, KindReport] = field(default_factory=dict)

    def kind(self, name: str) -> KindReport:
        return self.kinds.setdefault(name, KindReport())

    @property
    def imported(self) -> int:
        return sum(kind.imported for kind in self.kinds.values())

    def as_dict(self) -> dict[str, Any]:
        return {
            "source_kind": self.source_kind,
            "source": self.source,
            "dry_run": self.dry_run,
            "imported": self.imported,
            "kinds": {name: self.kinds[name].as_dict() for name in KINDS if name in self.kinds},
        }

    def lines(self) -> list[str]:
        verb = "would import" if self.dry_run else "imported"
        out = [f"{self.source_kind} at {self.source}" + (" (dry run: nothing written)" if self.dry_run else "")]
        width = max(len(name) for name in KINDS)
        out.append(f"{'KIND'.ljust(width)}  {verb.upper():>14}  {'ALREADY THERE':>13}  {'SKIPPED':>7}")
        for name in KINDS:
            if name in self.kinds:
                kind: KindReport = self.kinds[name]
                out.append(f"{name.ljust(width)}  {kind.imported:>14}  {kind.already:>13}  {len(kind.skipped):>7}")
        for name in KINDS:
            if name in self.kinds:
                out += [f"skipped {name} {item['id']}: {item['reason']}" for item in self.kinds[name].skipped]
                out += [f"note ({name}): {note}" for note in self.kinds[name].notes]
        if not self.imported:
            out.append("Nothing new to import: everything in the source is already here or skipped above.")
        return out
