"""The relay's route table: exact paths and path prefixes, each with the protocol family of its errors."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass

from relaygate.auth.credentials import Family
from relaygate.relay.asgi import Receive, Scope, Send
from relaygate.runtime import Runtime

Handler = Callable[[Runtime, Scope, Receive, Send, str], Awaitable[None]]


@dataclass(frozen=True)
class RelayRoute:
    method: str
    path: str  # an exact path, or a prefix when `prefix` is set
    family: Family  # decides the shape of this route's error bodies
    handler: Handler
    prefix: bool = False
    family_of: Callable[[Scope], Family] | None = None  # for a route several protocols' clients call

    def family_for(self, scope: Scope) -> Family:
        """The family whose error shape this request gets."""
        return self.family if self.family_of is None else self.family_of(scope)


class RouteTable:
    def __init__(self, routes: Iterable[RelayRoute]):
        self._exact: dict[tuple[str, str], RelayRoute] = {}
        self._prefixes: list[RelayRoute] = []
        self._paths: dict[str, Family] = {}
        self._methods: dict[str, set[str]] = {}
        for route in routes:
            if route.prefix:
                self._prefixes.append(route)
            else:
                self._exact[(route.method, route.path)] = route
                self._paths[route.path] = route.family
                self._methods.setdefault(route.path, set()).add(route.method)

    def match(self, method: str, path: str) -> RelayRoute | None:
        route = self._exact.get((method, path))
        if route is not None:
            return route
        for candidate in self._prefixes:
            if candidate.method == method and path.startswith(candidate.path) and len(path) > len(candidate.path):
                return candidate
        return None

    def family_of_known_path(self, path: str) -> Family | None:
        """The family of a path served under another method (for a 405 in the right shape)."""
        return self._paths.get(path)

    def allowed_methods(self, path: str) -> str:
        """The `Allow` header of a 405 on an exact path."""
        return ", ".join(sorted(self._methods.get(path, ())))
