"""Files sent to the browser as downloads, whatever script their names are written in."""
from __future__ import annotations

import unicodedata
from urllib.parse import quote

from flask import Response


def attachment(content: bytes | str, filename: str, mimetype: str, **headers: str) -> Response:
    """A download named `filename`. A name that is not plain ASCII (Arabic, Polish, emoji...) goes in the RFC 6266 /
    RFC 5987 `filename*` parameter as UTF-8, with an ASCII look-alike in `filename` for older clients; the name can
    never break the header (no quotes, backslashes or control characters)."""
    name = "".join(c for c in filename if unicodedata.category(c)[0] != "C" and c not in '"\\') or "download"
    response = Response(content, mimetype=mimetype, headers={"X-Content-Type-Options": "nosniff", **headers})
    try:
        name.encode("ascii")
    except UnicodeEncodeError:
        simple = unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode("ascii").strip()
        if not simple.rpartition(".")[0].strip(" ._-"):  # nothing readable left of the name: keep its extension
            simple = "download" + ("." + simple.rpartition(".")[2] if "." in simple else "")
        response.headers.set("Content-Disposition", "attachment", filename=simple, **{"filename*": f"UTF-8''{quote(name, safe='')}"})
    else:
        response.headers.set("Content-Disposition", "attachment", filename=name)
    return response
