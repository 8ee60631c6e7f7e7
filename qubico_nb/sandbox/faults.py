"""Seedable fault injection for the sandbox: latency, error statuses, 429s, drops, bad bodies."""

from __future__ import annotations

import math
import random
import threading
from collections.abc import Iterable
from dataclasses import dataclass, field

from .routes import ENDPOINTS

FAULT_KINDS = ("latency", "error", "rate_limit", "drop", "truncate", "malformed", "slow")


@dataclass
class FaultRule:
    """One kind of fault, applied to a share (`rate`) of requests to some endpoints.

    kind: ``latency`` (sleep ``ms`` plus up to ``jitter_ms``), ``error`` (answer ``status``,
    500/502/503), ``rate_limit`` (429 with ``Retry-After: retry_after``), ``drop`` (close the
    connection without answering), ``truncate`` (cut the JSON body in half), ``malformed``
    (a body that is not JSON), ``slow`` (send the body in pieces, ``ms`` apart).
    ``count`` caps how many requests the rule hits (None: no cap).
    """

    kind: str
    rate: float = 1.0
    endpoints: tuple[str, ...] = ("*",)
    count: int | None = None
    status: int = 503
    retry_after: float | None = 1.0
    ms: float = 0.0
    jitter_ms: float = 0.0
    hits: int = field(default=0, compare=False)

    def __post_init__(self) -> None:
        if self.kind not in FAULT_KINDS:
            raise ValueError(f"unknown fault kind {self.kind!r}; choose one of {FAULT_KINDS}")
        if not 0.0 <= self.rate <= 1.0:
            raise ValueError(f"fault rate must be between 0 and 1, got {self.rate!r}")
        if isinstance(self.endpoints, str):
            self.endpoints = (self.endpoints,)
        for name in self.endpoints:
            if name != "*" and name not in ENDPOINTS:
                raise ValueError(f"unknown endpoint {name!r}; choose from {ENDPOINTS} or '*'")
        if self.kind == "error" and not 500 <= self.status <= 599:
            raise ValueError(f"an error fault answers a 5xx status, got {self.status}")
        for name in ("ms", "jitter_ms", "retry_after", "count"):
            value = getattr(self, name)
            if value is not None and not (
                isinstance(value, (int, float)) and 0 <= value < math.inf
            ):
                raise ValueError(f"fault {name} must be 0 or more, got {value!r}")

    def applies_to(self, endpoint: str) -> bool:
        return "*" in self.endpoints or endpoint in self.endpoints

    @classmethod
    def parse(cls, spec: str) -> FaultRule:
        """Parse the CLI form ``KIND[:RATE[:ENDPOINT,ENDPOINT...]]``, e.g. ``error:0.2:get``."""
        parts = spec.split(":")
        if not parts[0] or len(parts) > 3:
            raise ValueError(f"fault spec {spec!r} is not KIND[:RATE[:ENDPOINTS]]")
        try:
            rate = float(parts[1]) if len(parts) > 1 and parts[1] else 1.0
        except ValueError:
            raise ValueError(f"fault rate in {spec!r} is not a number") from None
        endpoints = tuple(parts[2].split(",")) if len(parts) > 2 and parts[2] else ("*",)
        kwargs: dict[str, object] = {}
        if parts[0] == "latency":
            kwargs["ms"] = 200.0
        if parts[0] == "slow":
            kwargs["ms"] = 50.0
        return cls(parts[0], rate=rate, endpoints=endpoints, **kwargs)  # type: ignore[arg-type]


@dataclass(frozen=True)
class Decision:
    """What the faults chose for one request: a delay, and at most one failure rule."""

    delay_s: float = 0.0
    failure: FaultRule | None = None
    slow_ms: float = 0.0


_NO_FAULT = Decision()


class FaultPlan:
    """The active rules plus one seeded RNG, so a run with the same seed repeats exactly."""

    def __init__(self, rules: Iterable[FaultRule] = (), seed: int = 0) -> None:
        self._lock = threading.Lock()
        self._rules: list[FaultRule] = list(rules)
        self._rng = random.Random(seed)

    def add(self, rule: FaultRule) -> FaultRule:
        with self._lock:
            self._rules.append(rule)
        return rule

    def clear(self) -> None:
        with self._lock:
            self._rules.clear()

    def reseed(self, seed: int) -> None:
        with self._lock:
            self._rng = random.Random(seed)

    @property
    def rules(self) -> list[FaultRule]:
        with self._lock:
            return list(self._rules)

    def decide(self, endpoint: str) -> Decision:
        if not self._rules:  # the common case, without taking the lock
            return _NO_FAULT
        delay = 0.0
        slow = 0.0
        failure: FaultRule | None = None
        with self._lock:
            for rule in self._rules:
                if not rule.applies_to(endpoint):
                    continue
                if rule.count is not None and rule.hits >= rule.count:
                    continue
                is_failure = rule.kind not in ("latency", "slow")
                if is_failure and failure is not None:
                    continue
                if self._rng.random() >= rule.rate:
                    continue
                rule.hits += 1
                if rule.kind == "latency":
                    delay += (rule.ms + self._rng.random() * rule.jitter_ms) / 1000.0
                elif rule.kind == "slow":
                    slow = max(slow, rule.ms)
                else:
                    failure = rule
        return Decision(delay_s=delay, failure=failure, slow_ms=slow)
