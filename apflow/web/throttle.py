"""Limits on sign-in attempts, checked before any password is (Argon2 is slow on purpose, so a flood of guesses
must be turned away before it runs).

The policy (docs/operations.md, "Security"):
- from one client address, at most ADDRESS_LIMIT failed sign-ins a minute, whatever the usernames;
- for one username from one address, at most PAIR_LIMIT failures in PAIR_WINDOW: the owner who mistypes waits;
- for one username from every address together, at most USERNAME_LIMIT failures in USERNAME_WINDOW, which slows
  guessing spread over many addresses. An address the person has signed in from before is not held back by this
  one, so an attacker elsewhere cannot keep them out; a new address waits at most USERNAME_WINDOW after the
  attack stops.
Every username is treated the same whether or not the account exists, so a refusal says nothing about which
accounts exist. An attempt counts as soon as it starts (so a burst sent in parallel is held back at once) and is
taken off again when it succeeds. Counts live in this process's memory: a restart forgets them, and each web
process keeps its own.
"""
from __future__ import annotations

import math
import threading
from collections import deque
from dataclasses import dataclass

from apflow.clock import clock

ADDRESS_LIMIT, ADDRESS_WINDOW = 10, 60.0
PAIR_LIMIT, PAIR_WINDOW = 5, 15 * 60.0
USERNAME_LIMIT, USERNAME_WINDOW = 20, 15 * 60.0
KNOWN_ADDRESS_SECONDS = 30 * 24 * 3600.0
MAX_KEYS = 100_000  # beyond this many counters, the expired ones are swept out


@dataclass(frozen=True)
class Attempt:
    """One sign-in under way: the counters it was added to, to take it off again if it succeeds."""
    keys: tuple
    at: float


class Refused(Exception):
    def __init__(self, retry_after: int):
        super().__init__(retry_after)
        self.retry_after = retry_after

    @property
    def message(self) -> str:
        if self.retry_after <= 90:
            wait = f"{self.retry_after} more second(s)"
        else:
            wait = f"{math.ceil(self.retry_after / 60)} more minute(s)"
        return f"Too many failed sign-in attempts: signing in is locked for {wait}. Wait, then try again."


class SignInLimits:
    def __init__(self):
        self._lock = threading.Lock()
        self._failures: dict[tuple, deque] = {}
        self._known: dict[tuple, float] = {}  # (username, address) -> when the person last signed in from there

    def begin(self, address: str, username: str) -> Attempt:
        """Count a sign-in attempt, or raise Refused (with the seconds to wait) if it is over a limit."""
        now = clock.now().timestamp()
        name = _normal(username)
        keys = (("address", address), ("pair", name, address), ("username", name))
        with self._lock:
            known = now - self._known.get((name, address), -math.inf) <= KNOWN_ADDRESS_SECONDS
            spread = self._wait(keys[2], USERNAME_LIMIT, USERNAME_WINDOW, now)
            wait = max(self._wait(keys[0], ADDRESS_LIMIT, ADDRESS_WINDOW, now), self._wait(keys[1], PAIR_LIMIT, PAIR_WINDOW, now),
                       0.0 if known else spread)
            if wait > 0:
                raise Refused(max(1, math.ceil(wait)))
            for key in keys:
                self._failures.setdefault(key, deque()).append(now)
            if len(self._failures) > MAX_KEYS:
                self._sweep(now)
            return Attempt(keys, now)

    def succeeded(self, attempt: Attempt, address: str, username: str) -> None:
        """The attempt was right: it no longer counts, and the address is one this person uses."""
        with self._lock:
            for key in attempt.keys:
                times = self._failures.get(key)
                if times is not None and attempt.at in times:
                    times.remove(attempt.at)
            if len(self._known) > MAX_KEYS:
                self._known.clear()
            self._known[(_normal(username), address)] = attempt.at

    def _wait(self, key: tuple, limit: int, window: float, now: float) -> float:
        times = self._failures.get(key)
        if not times:
            return 0.0
        while times and times[0] <= now - window:
            times.popleft()
        if len(times) < limit:
            return 0.0
        return times[len(times) - limit] + window - now

    def _sweep(self, now: float) -> None:
        longest = max(ADDRESS_WINDOW, PAIR_WINDOW, USERNAME_WINDOW)
        for key in [k for k, times in self._failures.items() if not times or times[-1] <= now - longest]:
            del self._failures[key]


def _normal(username: str) -> str:
    return " ".join((username or "").split()).lower()[:80]
