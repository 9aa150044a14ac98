"""The in-memory view of live channels, and the choice among them (SPEC section 4).

Highest priority tier first, weighted random inside a tier; a retry moves on to channels not
yet tried, tier by tier. Every question names the channel types that speak the caller's
protocol, so a route only ever reaches channels it can talk to. A channel speaks its type, and an
OpenAI-protocol one that also serves the Responses API speaks `responses_type(type)` too (all do
but those set `chat_completions_only`), which is what `/v1/responses` asks for natively.

A channel may hold many upstream keys: the view keeps one `Channel` per live key (built once per
load, so a pick allocates nothing) and a pick spreads requests over them at random. Channel health
takes a key or a whole channel out of the view at once (`drop_key`, `drop_channel`), before its
new state reaches the database and comes back on the next load.
"""

from __future__ import annotations

import random
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from relaygate.channels.crypto import SecretBox

RESPONSES_CHANNEL_TYPES = frozenset({"openai", "azure"})  # the types whose upstreams may serve /v1/responses


def responses_type(channel_type: str) -> str:
    """The type a channel of `channel_type` speaks when it serves the Responses API."""
    return f"{channel_type}+responses"


def spoken_types(channel_type: str, chat_completions_only: bool) -> frozenset[str]:
    if channel_type in RESPONSES_CHANNEL_TYPES and not chat_completions_only:
        return frozenset({channel_type, responses_type(channel_type)})
    return frozenset({channel_type})


@dataclass(frozen=True)
class Channel:
    """One channel as the relay sends through it, with one of its keys (`key_id` says which)."""

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
    key_id: int = 0
    key_hint: str = ""
    chat_completions_only: bool = False  # an OpenAI-compatible upstream without /v1/responses
    speaks: frozenset[str] = field(init=False, repr=False, compare=False)  # the types routes match

    def __post_init__(self) -> None:
        object.__setattr__(self, "speaks", spoken_types(self.type, self.chat_completions_only))

    def upstream_model(self, model: str) -> str:
        return self.model_map.get(model, model)


class ChannelRegistry:
    def __init__(self) -> None:
        self._by_route: dict[tuple[str, str], list[list[Channel]]] = {}
        self._models_by_group: dict[str, set[str]] = {}
        self._all: list[Channel] = []
        self._keys: dict[int, list[Channel]] = {}  # channel id: one view per live key
        self._groups_by_model: dict[str, set[str]] = {}

    def load(self, rows: Iterable[Any], key_rows: Iterable[Any], box: SecretBox, disabled: Iterable[Any] = ()) -> None:
        """Replace the view with these enabled channel rows and their enabled key rows.

        `disabled`: the models and groups of the channels not enabled, only so that a model they
        serve is told apart from one nothing serves (`listed_in`); a channel taken out later (its
        last key refused) stays listed too.
        """
        rows = list(rows)
        keys_by_channel: dict[int, list[Any]] = {}
        for key_row in key_rows:
            keys_by_channel.setdefault(key_row["channel_id"], []).append(key_row)
        views: dict[int, list[Channel]] = {}
        for row in rows:
            found = [channel_from_row(row, key_row, box) for key_row in keys_by_channel.get(row["id"], [])]
            if found:
                views[row["id"]] = found
        groups_by_model: dict[str, set[str]] = {}
        for row in [*rows, *disabled]:
            for model in row["models"]:
                groups_by_model.setdefault(model, set()).update(row["groups"])
        self._groups_by_model = groups_by_model
        self._keys = views
        self._index()

    def _index(self) -> None:
        channels = [found[0] for found in self._keys.values() if found]
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

    def all(self) -> list[Channel]:
        return list(self._all)

    def live_keys(self, channel_id: int) -> int:
        """How many keys of the channel are in the view (0: the channel is out)."""
        return len(self._keys.get(channel_id, ()))

    def drop_key(self, channel_id: int, key_id: int) -> None:
        """Take one key out of the view now; the channel goes out with its last key."""
        left = [view for view in self._keys.get(channel_id, ()) if view.key_id != key_id]
        if left:
            self._keys[channel_id] = left
            self._index()
        else:
            self.drop_channel(channel_id)

    def drop_channel(self, channel_id: int) -> None:
        if self._keys.pop(channel_id, None) is not None:
            self._index()

    def serves(self, group: str, model: str, types: frozenset[str] | None = None) -> bool:
        """Whether a channel of one of `types` (None: any type) serves `model` to `group`."""
        tiers = self._by_route.get((group, model), ())
        return any(types is None or not channel.speaks.isdisjoint(types) for tier in tiers for channel in tier)

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
            if not channel.speaks.isdisjoint(types) and group in channel.groups
            for model in channel.models
        }

    def pick(self, group: str, model: str, tried: set[int], types: frozenset[str]) -> Channel | None:
        """A channel of one of `types` for `model` in `group`, not in `tried`, with one of its live keys;
        None when none is left."""
        for tier in self._by_route.get((group, model), ()):
            left = [channel for channel in tier if channel.id not in tried and not channel.speaks.isdisjoint(types)]
            if not left:
                continue
            chosen = left[0]
            if len(left) > 1:
                weights = [max(channel.weight, 0) for channel in left]
                if sum(weights):
                    chosen = random.choices(left, weights=weights)[0]
            views = self._keys[chosen.id]
            return chosen if len(views) == 1 else random.choice(views)
        return None


def _tiers(channels: list[Channel]) -> list[list[Channel]]:
    priorities = sorted({channel.priority for channel in channels}, reverse=True)
    return [[channel for channel in channels if channel.priority == p] for p in priorities]


def channel_from_row(row: Any, key_row: Any, box: SecretBox) -> Channel:
    """A channel row as the relay uses it, sending with the key of `key_row` (decrypted)."""
    return Channel(
        id=row["id"],
        name=row["name"],
        type=row["type"],
        base_url=row["base_url"],
        key=box.decrypt(key_row["key_encrypted"]),
        models=frozenset(row["models"]),
        model_map=dict(row["model_map"]),
        groups=frozenset(row["groups"]),
        priority=row["priority"],
        weight=row["weight"],
        key_id=key_row["id"],
        key_hint=key_row["key_hint"],
        chat_completions_only=bool(row.get("chat_completions_only", False)),
    )
