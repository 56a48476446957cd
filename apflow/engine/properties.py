"""The extension properties an author sets on a step (spiffworkflow:property), as a plain dict."""
from __future__ import annotations


def task_properties(task_spec) -> dict:
    extensions = getattr(task_spec, "extensions", None) or {}
    return dict(extensions.get("properties") or {})
