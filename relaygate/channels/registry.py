"""The in-memory view of enabled channels, and the choice among them (SPEC section 4).

Highest priority tier first, weighted random inside a tier; a retry moves on to channels not
yet tried, tier by tier. Every question names the channel types that speak the caller's
protocol, so a route only ever reaches channels it can talk to.
"""

from __future__ import annotations

import random
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from relaygate.channels.crypto import SecretBox


@dataclass(frozen=True)
class Channel:
    id: int
    name: str
    type: str
    base_url: str
    key: str
    models: frozenset[str]
    model_map: dict[str, str]
    groups: frozenset[str]
    priority: int
    weight: int

    def upstream_model(self, model: str) -> str:
        return self.model_map.get(model, model)


class ChannelRegistry:
    def __init__(self) -> None:
        self._by_route: dict[tuple[str, str], list[list[Channel]]] = {}
        self._models_by_group: dict[str, set[str]] = {}
        self._all: list[Channel] = []
        self._groups_by_model: dict[str, set[str]] = {}

    def load(self, rows: Iterable[Any], box: SecretBox, disabled: Iterable[Any] = ()) -> None:
        """Replace the view with these channel rows (all enabled).

        `disabled`: the models and groups of the channels not enabled, only so that a model they
        serve is told apart from one nothing serves (`listed_in`).
        """
        channels = [channel_from_row(row, box) for row in rows]
        by_route: dict[tuple[str, str], list[Channel]] = {}
        models_by_group: dict[str, set[str]] = {}
        for channel in channels:
            for group in channel.groups:
                models_by_group.setdefault(group, set()).update(channel.models)
                for model in channel.models:
                    by_route.setdefault((group, model), []).append(channel)
        self._by_route = {route: _tiers(found) for route, found in by_route.items()}
        self._models_by_group = models_by_group
        self._all = channels
        groups_by_model: dict[str, set[str]] = {}
        for row in [*channels, *disabled]:
            groups = row.groups if isinstance(row, Channel) else row["groups"]
            for model in row.models if isinstance(row, Channel) else row["models"]:
                groups_by_model.setdefault(model, set()).update(groups)
        self._groups_by_model = groups_by_model

    def all(self) -> list[Channel]:
        return list(self._all)

    def serves(self, group: str, model: str, types: frozenset[str] | None = None) -> bool:
        """Whether a channel of one of `types` (None: any type) serves `model` to `group`."""
        tiers = self._by_route.get((group, model), ())
        return any(types is None or channel.type in types for tier in tiers for channel in tier)

    def listed_in(self, groups: frozenset[str], model: str) -> bool:
        """Whether any channel, enabled or not, lists `model` for one of `groups`."""
        return not self._groups_by_model.get(model, set()).isdisjoint(groups)

    def types_serving(self, group: str, model: str) -> set[str]:
        return {channel.type for tier in self._by_route.get((group, model), ()) for channel in tier}

    def models_for(self, group: str, types: frozenset[str] | None = None) -> set[str]:
        if types is None:
            return self._models_by_group.get(group, set())
        return {
            model
            for channel in self._all
            if channel.type in types and group in channel.groups
            for model in channel.models
        }

    def pick(self, group: str, model: str, tried: set[int], types: frozenset[str]) -> Channel | None:
        """A channel of one of `types` for `model` in `group`, not in `tried`; None when none is left."""
        for tier in self._by_route.get((group, model), ()):
            left = [channel for channel in tier if channel.id not in tried and channel.type in types]
            if not left:
                continue
            if len(left) == 1:
                return left[0]
            weights = [max(channel.weight, 0) for channel in left]
            if sum(weights) == 0:
                return left[0]
            return random.choices(left, weights=weights)[0]
        return None


def _tiers(channels: list[Channel]) -> list[list[Channel]]:
    priorities = sorted({channel.priority for channel in channels}, reverse=True)
    return [[channel for channel in channels if channel.priority == p] for p in priorities]


def channel_from_row(row: Any, box: SecretBox) -> Channel:
    """A channel row as the relay uses it, key decrypted."""
    return Channel(
        id=row["id"],
        name=row["name"],
        type=row["type"],
        base_url=row["base_url"],
        key=box.decrypt(row["key_encrypted"]),
        models=frozenset(row["models"]),
        model_map=dict(row["model_map"]),
        groups=frozenset(row["groups"]),
        priority=row["priority"],
        weight=row["weight"],
    )
