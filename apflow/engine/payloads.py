"""JSON from outside (task answers, start data) on its way into workflow data: bounded in size and shape, and
free of the keys SpiffWorkflow's serializer reads as its own objects.

SpiffWorkflow 3.2 restores every dict holding a "typename" key as an object of that type
(SpiffWorkflow/bpmn/serializer/helpers/dictionary.py, DictionaryConverter.restore), task data included: one
such dict in an answer makes the instance unreadable from its next load on. The older serializer in the same
package (SpiffWorkflow/serializer/json.py) reads "__uuid__", "__bytes__" and "__attrib__" the same way; apflow
does not use it, but refusing them costs nothing. Limits: docs/authoring.md, "Limits on forms".
"""
from __future__ import annotations

import json
import math

SERIALIZER_MARKERS = frozenset({"typename", "__uuid__", "__bytes__", "__attrib__"})
MAX_DATA_BYTES = 256 * 1024  # the whole submission as compact JSON
MAX_DEPTH = 16               # objects and lists inside one another
MAX_ITEMS = 500              # entries in any one list (e.g. rows of a repeating group)
_MAX_REPORTED = 20


def problems(data) -> dict[str, list[str]]:
    """Per-path messages ("sites.0.typename") for data that may not enter a workflow; {} when it may.

    Walks without recursion, so no nesting can exhaust the stack before the depth limit says no.
    """
    if not isinstance(data, dict):
        return {"": ["The data must be a JSON object of names to values."]}
    found: dict[str, list[str]] = {}
    stack: list[tuple[object, tuple[str, ...]]] = [(data, ())]
    while stack and len(found) < _MAX_REPORTED:
        value, path = stack.pop()
        where = ".".join(path)
        if isinstance(value, (dict, list)) and len(path) >= MAX_DEPTH:
            found.setdefault(where, []).append(f"This is nested more than {MAX_DEPTH} levels deep; send flatter data.")
        elif isinstance(value, dict):
            for key, item in value.items():
                if not isinstance(key, str) or not _unicode(key):
                    found.setdefault(where, []).append("Names in the data must be text without invalid characters.")
                elif key in SERIALIZER_MARKERS:
                    found.setdefault(".".join((*path, key)), []).append(
                        f"'{key}' is a name the workflow engine keeps for itself, so it cannot be used in data; rename it or leave it out.")
                else:
                    stack.append((item, (*path, key)))
        elif isinstance(value, list):
            if len(value) > MAX_ITEMS:
                found.setdefault(where, []).append(f"This list has {len(value)} entries; at most {MAX_ITEMS} are accepted.")
            else:
                stack.extend((item, (*path, str(i))) for i, item in enumerate(value))
        elif isinstance(value, str) and not _unicode(value):
            found.setdefault(where, []).append("This text holds a character that is not valid Unicode (a lone surrogate); send UTF-8 text.")
        elif isinstance(value, float) and not math.isfinite(value):
            found.setdefault(where, []).append("This must be an ordinary number (not NaN or infinity).")
        elif not (value is None or isinstance(value, (str, int, float, bool))):
            found.setdefault(where, []).append("This is not a JSON value (text, number, yes/no, list or object).")
    if found:
        return found
    size = len(json.dumps(data, ensure_ascii=False, separators=(",", ":")).encode("utf-8"))
    if size > MAX_DATA_BYTES:
        return {"": [f"The data is {size // 1024} KiB of JSON; at most {MAX_DATA_BYTES // 1024} KiB are accepted. "
                     "Shorten long text, or upload it as a document."]}
    return {}


def _unicode(text: str) -> bool:
    """Whether text can be stored and matched as UTF-8 (JSON's \\ud800 escapes can make it otherwise)."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def summary(found: dict[str, list[str]]) -> str:
    """One sentence for the first problem, naming where it is."""
    where, [message, *_] = next(iter(found.items()))
    return f"{where}: {message}" if where else message
