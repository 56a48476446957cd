"""What every request must get past before a handler sees it, so a malformed request is a 4xx that says what is
wrong and never reaches the database (where it would fail as a 500, or be stored and served back broken).

- JSON bodies are parsed strictly: no NaN or Infinity (JSON has neither), whole numbers within 64 bits, nesting at
  most MAX_JSON_DEPTH deep, and no NUL character or lone surrogate in any text (PostgreSQL cannot store them);
  on the API the body is a JSON object.
- The same characters are refused in the path, the query string, form fields and uploaded file names.
- <int:...> in a route matches only numbers an id column can hold (ids are INTEGER: 32-bit signed on PostgreSQL): a
  larger id is "not found", not a database overflow.
"""
from __future__ import annotations

import json
import math
import re

from flask import abort, request
from flask.json.provider import DefaultJSONProvider
from werkzeug.routing import IntegerConverter, ValidationError

MAX_JSON_DEPTH = 64
INT64_MIN, INT64_MAX = -(2 ** 63), 2 ** 63 - 1
ID_MAX = 2 ** 31 - 1  # the largest id an INTEGER primary key holds on PostgreSQL (SQLite's are 64-bit)
_UNSTORABLE = re.compile("[\x00\ud800-\udfff]")


class MalformedJSON(ValueError):
    """A body that is not JSON apflow accepts; the message says why in plain words."""


def _no_constant(name: str):
    raise MalformedJSON(f"The request body contains {name}, which is not a number JSON allows.")


def _finite(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise MalformedJSON(f"The number {text[:40]} in the request body is too large.")
    return value


def _whole(text: str) -> int:
    if len(text.lstrip("-")) > 19:
        raise MalformedJSON("A whole number in the request body is too large (at most 19 digits).")
    value = int(text)
    if not INT64_MIN <= value <= INT64_MAX:
        raise MalformedJSON("A whole number in the request body is too large (at most 9223372036854775807).")
    return value


def strict_loads(data: str | bytes):
    """Parse JSON as apflow accepts it, or raise MalformedJSON."""
    try:
        value = json.loads(data, parse_constant=_no_constant, parse_float=_finite, parse_int=_whole)
    except MalformedJSON:
        raise
    except RecursionError:
        raise MalformedJSON(f"The request body is nested too deeply (at most {MAX_JSON_DEPTH} levels).") from None
    except UnicodeDecodeError:
        raise MalformedJSON("The request body is not UTF-8 text.") from None
    except ValueError as err:
        where = f" (line {err.lineno}, column {err.colno})" if isinstance(err, json.JSONDecodeError) else ""
        raise MalformedJSON(f"The request body is not valid JSON{where}.") from None
    _check_value(value)
    return value


def _check_value(value) -> None:
    """Depth and text checks over the parsed value, without recursion."""
    pending = [(value, 1)]
    while pending:
        item, depth = pending.pop()
        if isinstance(item, str):
            _check_text(item, "The request body")
        elif isinstance(item, (dict, list)):
            if depth > MAX_JSON_DEPTH:
                raise MalformedJSON(f"The request body is nested too deeply (at most {MAX_JSON_DEPTH} levels).")
            if isinstance(item, dict):
                for key, child in item.items():
                    _check_text(key, "The request body")
                    pending.append((child, depth + 1))
            else:
                pending.extend((child, depth + 1) for child in item)


def _check_text(text: str, where: str) -> None:
    found = _UNSTORABLE.search(text)
    if found:
        what = "a NUL character" if found.group() == "\x00" else "a broken character (a lone UTF-16 surrogate)"
        raise MalformedJSON(f"{where} contains {what}, which cannot be stored. Remove it and try again.")


class StrictJSONProvider(DefaultJSONProvider):
    """Flask's JSON, parsing as strict_loads does (request.get_json and flask.json.loads)."""

    def loads(self, s, **kwargs):
        return strict_loads(s)


class IdConverter(IntegerConverter):
    """<int:...> that matches only what fits an id column; anything larger matches no route (404)."""

    def __init__(self, map, *args, **kwargs):
        kwargs.setdefault("max", ID_MAX)
        super().__init__(map, *args, **kwargs)

    def to_python(self, value: str):
        if len(value) > 19:  # before int(): Python refuses to read numbers of thousands of digits
            raise ValidationError()
        return super().to_python(value)


def check_request():
    """before_request: refuse what cannot be stored or read, with a 400 that says what to change."""
    try:
        _check_text(request.path, "The address")
        for key, value in request.args.items(multi=True):
            _check_text(key + value, "The query string")
        if request.method in {"POST", "PUT", "PATCH", "DELETE"}:
            if request.mimetype in {"application/x-www-form-urlencoded", "multipart/form-data"}:
                for key, value in request.form.items(multi=True):
                    _check_text(key + value, "The form")
                for upload in request.files.values():
                    _check_text(upload.filename or "", "The file name")
            elif request.is_json and request.content_length != 0:
                body = request.get_data(cache=True)
                if body.strip():
                    parsed = strict_loads(body)
                    if request.path.startswith("/api/") and not isinstance(parsed, dict):  # every API body is an object
                        raise MalformedJSON('The request body must be a JSON object, e.g. {"data": {...}}.')
                    if hasattr(request, "_cached_json"):  # the handler's get_json() gets this parse, not a second one
                        request._cached_json = (parsed, parsed)
    except MalformedJSON as err:
        abort(400, description=str(err))


def init_app(app) -> None:
    """Before any blueprint is registered: the converter applies to routes as they are added."""
    app.json = StrictJSONProvider(app)
    app.url_map.converters["int"] = IdConverter
    app.before_request(check_request)
