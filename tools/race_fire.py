"""Firing N requests at once through the gateway, and tallying one row of the race table
(tools/races.py)."""
from __future__ import annotations


import functools
import ssl
import sys
import threading
import time
import uuid
from collections import Counter
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

import httpx

_started = [time.monotonic()]  # reset by run_races: progress lines show the seconds since


def log(message: str) -> None:
    sys.stderr.write(f"[races {time.monotonic() - _started[0]:5.1f}s] {message}\n")
    sys.stderr.flush()


# --------------------------------------------------------------------------------------------
# Firing N requests at once


@dataclass
class Shot:
    status: int | None  # None: the request failed in transport (error says how)
    body: Any = None
    error: str | None = None


Send = Callable[[httpx.Client], httpx.Response]


def post(path: str, token: str, body: dict) -> Send:
    """A POST with its own Idempotency-Key: every shot is a distinct request, not a replay."""
    def send(client: httpx.Client) -> httpx.Response:
        return client.post(path, json=body, headers={"Authorization": f"Bearer {token}",
                                                     "Idempotency-Key": uuid.uuid4().hex})
    return send


@functools.cache
def _tls() -> ssl.SSLContext:
    return httpx.create_ssl_context()


def fire(base_url: str, sends: list[Send]) -> list[Shot]:
    """Send every request at once: one thread and one HTTP client each, the connection opened
    first, then all released together by a barrier. Answers in the same order."""
    barrier = threading.Barrier(len(sends))
    tls = _tls()  # one TLS context for all the clients: building one each costs ~0.1-0.3 s CPU
    released: list[float] = []
    answered: list[float] = []

    def one(send: Send) -> Shot:
        with httpx.Client(base_url=base_url, timeout=httpx.Timeout(90, connect=10),
                          verify=tls) as client:
            try:  # a warm keep-alive connection, so the POSTs leave together: a path no route
                # owns, which the gateway answers (404) without asking any service or Redis
                client.get("/races-warm-up")
            except httpx.HTTPError:
                pass  # the shot itself will say what is wrong
            try:
                barrier.wait(timeout=60)
            except threading.BrokenBarrierError:
                pass
            released.append(time.monotonic())
            try:
                reply = send(client)
            except httpx.HTTPError as exc:
                return Shot(None, error=f"{exc.__class__.__name__}")
            finally:
                answered.append(time.monotonic())
            try:
                body = reply.json()
            except ValueError:
                body = reply.text[:300]
            return Shot(reply.status_code, body)

    started = time.monotonic()
    with ThreadPoolExecutor(len(sends)) as pool:
        shots = list(pool.map(one, sends))
    log(f"  ready after {min(released) - started:.1f} s; {len(sends)} requests released within "
        f"{max(released) - min(released):.3f} s, all answered "
        f"{max(answered) - min(released):.1f} s after the first left")
    return shots


# --------------------------------------------------------------------------------------------
# One row of the table


@dataclass
class Row:
    path: str
    requests: int
    allowed: int
    succeeded: int = 0
    others: Counter = field(default_factory=Counter)  # outcome label -> count (not successes)
    server_errors: int = 0  # 5xx answers and transport failures
    notes: list[str] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)  # state read back contradicting answers

    def tally(self, shots: list[Shot], success: Callable[[Shot], bool],
              label: Callable[[Shot], str | int] | None = None) -> list[Shot]:
        """Count the successes; label the rest (the status by default). Returns the successes."""
        won = []
        for shot in shots:
            if shot.status is None or shot.status >= 500:
                self.server_errors += 1
            if shot.status is not None and success(shot):
                won.append(shot)
                continue
            self.others[shot.error if shot.status is None else
                        (label(shot) if label else shot.status)] += 1
        self.succeeded = len(won)
        if any(s.status is not None and s.status >= 500 for s in shots):
            first = next(s for s in shots if s.status is not None and s.status >= 500)
            self.notes.append(f"a {first.status} answered: {_detail(first.body)}")
        return won

    def check(self, holds: bool, problem: str) -> None:
        if not holds:
            self.problems.append(problem)

    @property
    def ok(self) -> bool:
        return self.succeeded <= self.allowed and not self.server_errors and not self.problems

    @property
    def verdict(self) -> str:
        if self.ok:
            return "OK"
        why = []
        if self.succeeded > self.allowed:
            why.append(f"{self.succeeded - self.allowed} too many")
        if self.server_errors:
            why.append(f"{self.server_errors} 5xx/transport")
        if self.problems:
            why.append("state")
        return "FAIL (" + ", ".join(why) + ")"

    def as_dict(self) -> dict[str, Any]:
        return {"path": self.path, "requests": self.requests, "succeeded": self.succeeded,
                "allowed": self.allowed, "others": {str(k): v for k, v in self.others.items()},
                "verdict": self.verdict, "notes": self.notes, "problems": self.problems}


def _detail(body: Any) -> str:
    if isinstance(body, dict):
        return str(body.get("detail") or body.get("title") or body)[:200]
    return str(body)[:200]


