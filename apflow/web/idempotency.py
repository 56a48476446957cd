"""The `Idempotency-Key` header on POST /api/v1/...: the same request sent twice does its work once (see
apflow.services.idempotency and docs/api.md)."""
from __future__ import annotations

import hashlib
import json
import logging

from flask import abort, current_app, g, request

from apflow.errors import ServiceError
from apflow.services import idempotency

from .auth import api_user, current_core

HEADER = "Idempotency-Key"
log = logging.getLogger(__name__)


def _fingerprint() -> str:
    digest = hashlib.sha256()
    for part in (request.method, request.path, request.query_string.decode("latin-1")):
        digest.update(part.encode("utf-8", "surrogatepass") + b"\0")
    digest.update(request.get_data(cache=True))
    return digest.hexdigest()


def hold_or_replay():
    """before_request: hold the key for this request, or answer with what the first request with it answered."""
    key = request.headers.get(HEADER)
    if key is None or request.method != "POST" or not request.path.startswith("/api/"):
        return None
    key = key.strip()
    if not key or len(key) > idempotency.MAX_KEY_LENGTH or not (key.isascii() and key.isprintable()):
        abort(400, description=f"The {HEADER} header must be 1 to {idempotency.MAX_KEY_LENGTH} printable ASCII characters, "
                               "e.g. a UUID made for this request.")
    try:
        user = api_user()
    except ServiceError:
        return None  # the handler refuses the request in its own words; nothing is held
    held = idempotency.begin(current_core(), user, key, f"{request.method} {request.path}", _fingerprint())
    if isinstance(held, idempotency.Replay):
        body = "" if held.body is None else json.dumps(held.body)
        response = current_app.response_class(body, status=held.status, mimetype="application/json")
        response.headers["Idempotent-Replayed"] = "true"
        return response
    g.idempotency_key = held
    return None


def remember(response):
    """after_request: keep a successful answer for repeats; after anything else free the key for another try."""
    held = g.pop("idempotency_key", None)
    if held is None:
        return response
    try:
        if 200 <= response.status_code < 300:
            idempotency.finish(current_core(), held, response.status_code, response.get_json(silent=True))
        else:
            idempotency.release(current_core(), held)
    except Exception as err:  # noqa: BLE001 - the answer goes out regardless; the key frees itself (ABANDONED_AFTER)
        log.warning("could not store the answer for an Idempotency-Key on %s %s: %s", request.method, request.path, err)
    return response


def init_app(app) -> None:
    app.before_request(hold_or_replay)
    app.after_request(remember)
