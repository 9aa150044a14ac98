"""Which source row became which relaygate row (`import_map`): what makes a second import add nothing."""

from __future__ import annotations

from sqlalchemy import insert, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from relaygate.clock import now
from relaygate.store.schema import import_map


class ImportMap:
    def __init__(self, source: str, known: dict[tuple[str, str], str]):
        self.source = source
        self._known = known

    @classmethod
    async def load(cls, conn: AsyncConnection, source: str) -> ImportMap:
        rows = await conn.execute(
            select(import_map.c.kind, import_map.c.source_id, import_map.c.target_id).where(
                import_map.c.source == source
            )
        )
        return cls(source, {(row.kind, row.source_id): row.target_id for row in rows})

    def get(self, kind: str, source_id: object) -> str | None:
        return self._known.get((kind, str(source_id)))

    def get_id(self, kind: str, source_id: object) -> int | None:
        target = self.get(kind, source_id)
        return None if target is None else int(target)

    async def remember(self, conn: AsyncConnection, kind: str, source_id: object, target_id: object) -> None:
        values = {"source": self.source, "kind": kind, "source_id": str(source_id), "target_id": str(target_id)}
        if (kind, str(source_id)) in self._known:
            return
        await conn.execute(insert(import_map).values(**values, created_at=now()))
        self._known[(kind, str(source_id))] = str(target_id)

    async def move(self, conn: AsyncConnection, kind: str, source_id: object, target_id: object) -> None:
        """Change what `source_id` maps to (a cursor, such as the last log imported)."""
        key = (kind, str(source_id))
        if key not in self._known:
            await self.remember(conn, kind, source_id, target_id)
            return
        where = (import_map.c.source == self.source) & (import_map.c.kind == kind)
        await conn.execute(
            update(import_map).where(where, import_map.c.source_id == str(source_id)).values(target_id=str(target_id))
        )
        self._known[key] = str(target_id)
