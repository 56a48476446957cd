"""Idempotency keys: a request that creates something, sent again with the same `Idempotency-Key` (a client that
never got the answer, a retry after a dropped connection), gets the first answer instead of creating it twice.

A key belongs to one person and one method and path. The first request stores it before it runs, and its answer
after it succeeds; a repeat with the same body gets that answer, a repeat while the first still runs is told to
wait (Conflict), and a different body under the same key is refused (Invalid). Only a successful answer uses a key
up: after a refusal or a failure the key is free again. The scheduler's housekeeping forgets keys after KEEP_FOR.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy import delete, select, update
from sqlalchemy.exc import IntegrityError

from apflow.clock import clock
from apflow.errors import Conflict, Invalid
from apflow.store.models import IdempotencyKey, User

from .core import Core

KEEP_FOR = timedelta(hours=24)
# A key whose first request ended without an answer being stored (the database failed half-way, the process died)
# is free again after this: longer than any request runs, since every database wait is bounded.
ABANDONED_AFTER = timedelta(minutes=2)
MAX_KEY_LENGTH = 200


@dataclass
class Replay:
    """The stored answer of the first request with this key."""
    status: int
    body: object


def begin(core: Core, user: User, key: str, scope: str, fingerprint: str) -> int | Replay:
    """Hold the key for this request (returns its row id, for finish or release), or the stored answer to replay.

    Raises Conflict while the first request with the key is still running, Invalid when the key was used for a
    different request."""
    now = clock.now()
    scope = scope[:300]
    try:
        with core.db.session() as session:
            row = IdempotencyKey(user_id=user.id, key=key, scope=scope, status_code=None, response={"request": fingerprint}, created_at=now)
            session.add(row)
            session.flush()
            return row.id
    except IntegrityError:
        pass  # the key is known: decide below
    with core.db.session() as session:
        row = session.scalar(select(IdempotencyKey).where(IdempotencyKey.user_id == user.id, IdempotencyKey.key == key,
                                                          IdempotencyKey.scope == scope))
        if row is None:  # forgotten in between (housekeeping): hold it afresh
            return begin(core, user, key, scope, fingerprint)
        if (row.response or {}).get("request") != fingerprint:
            raise Invalid("This Idempotency-Key was already used for a different request. Use a new key for a new request.",
                          {"idempotency_key": ["Already used with another request body."]})
        if row.status_code is not None:
            return Replay(row.status_code, row.response.get("body"))
        if row.created_at > now - ABANDONED_AFTER:
            raise Conflict("The first request with this Idempotency-Key is still being processed. Wait a moment, then send it again.")
        taken = session.execute(update(IdempotencyKey).where(IdempotencyKey.id == row.id, IdempotencyKey.status_code.is_(None),
                                                             IdempotencyKey.created_at == row.created_at).values(created_at=now))
        if taken.rowcount != 1:
            raise Conflict("The first request with this Idempotency-Key is still being processed. Wait a moment, then send it again.")
        return row.id


def finish(core: Core, key_id: int, status: int, body) -> None:
    """Store the answer of the request holding the key, for repeats."""
    with core.db.session() as session:
        row = session.get(IdempotencyKey, key_id)
        if row is not None:
            row.status_code = status
            row.response = {"request": (row.response or {}).get("request"), "body": body}


def release(core: Core, key_id: int) -> None:
    """The request holding the key did not succeed: a repeat may try again with the same key."""
    with core.db.session() as session:
        session.execute(delete(IdempotencyKey).where(IdempotencyKey.id == key_id, IdempotencyKey.status_code.is_(None)))


def purge(core: Core) -> int:
    """Forget keys older than KEEP_FOR (the scheduler's housekeeping); returns how many."""
    with core.db.session() as session:
        return session.execute(delete(IdempotencyKey).where(IdempotencyKey.created_at < clock.now() - KEEP_FOR)).rowcount
