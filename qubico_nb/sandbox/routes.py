"""The sandbox's one route table: which paths exist, which methods each takes, which are public."""

from __future__ import annotations

import re
from dataclasses import dataclass


@dataclass(frozen=True)
class Route:
    """One endpoint: its name (used by counters and fault rules), methods and path pattern.

    A ``public`` route is a CDN file: no API key, no request rate limit, as on the live service.
    """

    endpoint: str
    methods: tuple[str, ...]
    path: str
    public: bool = False

    @property
    def pattern(self) -> re.Pattern[str]:
        return _PATTERNS[self.path]


ROUTES: tuple[Route, ...] = (
    Route("create", ("POST",), r"/api/v1/task"),
    Route("get", ("GET", "HEAD"), r"/api/v1/task/(?P<task_id>[^/]+)"),
    Route("cancel", ("DELETE",), r"/api/v1/task/(?P<task_id>[^/]+)"),
    Route("history", ("GET",), r"/api/open/tasks/histories"),
    Route("account", ("GET",), r"/account/info"),
    Route("active", ("GET",), r"/account/active_tasks"),
    Route("upload", ("POST",), r"/api/ephemeral_resource"),
    # Sandbox only, never on the live service: the true sync offset of a task (sandbox/sync.py).
    Route("sync", ("GET",), r"/sandbox/tasks/(?P<task_id>[^/]+)/sync"),
    Route(
        "file",
        ("GET", "HEAD"),
        r"/(?P<kind>temp|ephemeral|assets)/(?P<name>[A-Za-z0-9._-]+)",
        public=True,
    ),
)

#: Endpoint names that rules and request counters use, in table order.
ENDPOINTS: tuple[str, ...] = tuple(route.endpoint for route in ROUTES)
#: The counter name of a request no route matches (a wrong path, or a wrong method).
UNROUTED = "other"

_PATTERNS: dict[str, re.Pattern[str]] = {
    route.path: re.compile(f"^{route.path}$") for route in ROUTES
}
_COMPILED = tuple((route, _PATTERNS[route.path]) for route in ROUTES)


@dataclass(frozen=True)
class RouteMatch:
    """Where a request goes: a route and its path parameters, or why none takes it.

    ``route`` is None when no path matches (404); ``allowed`` lists the methods of a path that
    matched only with another method (405).
    """

    route: Route | None
    params: dict[str, str]
    allowed: tuple[str, ...] = ()

    @property
    def endpoint(self) -> str:
        return self.route.endpoint if self.route is not None else UNROUTED


def match(method: str, path: str) -> RouteMatch:
    """The route that serves ``method path``, if any."""
    allowed: list[str] = []
    for route, pattern in _COMPILED:
        found = pattern.match(path)
        if found is None:
            continue
        if method in route.methods:
            return RouteMatch(route, found.groupdict())
        allowed.extend(m for m in route.methods if m not in allowed)
    return RouteMatch(None, {}, tuple(allowed))
