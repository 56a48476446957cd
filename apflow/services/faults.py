"""A value the database refused, found after the request's own checks let it through: the person's request is at
fault (a number too large for its column, text the database cannot hold), so it is a 422 in plain words, never a 500
with SQL in it. The web's last-resort error handler asks here."""
from __future__ import annotations

from sqlalchemy import exc as sa_exc

from apflow.errors import Invalid, ServiceError

UNSTORABLE = ("A value in the request cannot be stored: a number is too large, or a text holds a character the "
              "database cannot keep. Correct it and send the request again.")


def refusal_for(err: BaseException) -> ServiceError | None:
    """Invalid when err (or what caused it) is the database refusing a value; None for anything else."""
    seen = set()
    current = err
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        if isinstance(current, (sa_exc.DataError, OverflowError)):
            return Invalid(UNSTORABLE)
        current = current.__cause__ or current.__context__
    return None
