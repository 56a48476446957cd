"""Regular expressions of forms (JSON Schema "pattern"), run with RE2: linear time whatever the pattern or the answer."""
from __future__ import annotations

import functools

import re2

MAX_PATTERN_CHARS = 1000
MAX_PATTERN_SIZE = 5000    # instructions of the compiled RE2 program

RE2_OPTIONS = re2.Options()
RE2_OPTIONS.log_errors = False  # a refused pattern is reported to the author, not logged by the C++ library


@functools.lru_cache(maxsize=1024)
def regex(pattern: str):
    """A form's pattern compiled for RE2, once; None when RE2 refuses it."""
    try:
        return re2.compile(pattern, RE2_OPTIONS)
    except (re2.error, UnicodeEncodeError):
        return None


def search(pattern: str, text: str) -> bool:
    compiled = regex(pattern)
    try:
        return compiled is not None and compiled.search(text) is not None
    except UnicodeEncodeError:  # a lone surrogate matches nothing
        return False


def is_regex(instance) -> bool:
    if isinstance(instance, str):
        re2.compile(instance, RE2_OPTIONS)
    return True


def pattern_problems(pattern: str, what: str) -> list[tuple[str, str]]:
    if len(pattern) > MAX_PATTERN_CHARS:
        return [(f"{what[0].upper()}{what[1:]} is longer than {MAX_PATTERN_CHARS} characters.",
                 'Shorten the pattern; limit the length of an answer with "maxLength" instead.')]
    try:
        compiled = re2.compile(pattern, RE2_OPTIONS)
    except (re2.error, UnicodeEncodeError) as err:
        reason = err.args[0].decode("utf-8", "replace") if err.args and isinstance(err.args[0], bytes) else str(err)
        return [(f"{what[0].upper()}{what[1:]} cannot be used: apflow checks patterns with RE2, which runs in linear time "
                 f"and does not accept this one ({reason}).",
                 "Rewrite it without back-references (\\1) and look-arounds ((?=…), (?!…), (?<=…), (?<!…)), which need "
                 "backtracking, e.g. by listing the accepted alternatives; write a character as itself or as \\x{00e9}, not \\u00e9.")]
    if compiled.programsize > MAX_PATTERN_SIZE:
        return [(f"{what[0].upper()}{what[1:]} is too complex to check quickly.",
                 'Simplify it: limit lengths with "maxLength" instead of counted repeats such as .{1000}.')]
    return []
