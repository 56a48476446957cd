"""Front-end libraries installed from npm (apflow/web/frontend, with its lockfile), served from our own origin."""
from __future__ import annotations

from pathlib import Path

from flask import Blueprint, abort, send_from_directory

NODE_MODULES = Path(__file__).resolve().parent / "frontend" / "node_modules"
# Only these folders are served; everything else in node_modules stays private.
VENDOR = {
    "pico": "@picocss/pico/css",
    "bpmn-js": "bpmn-js/dist",
    "bpmnlint": "bpmn-js-bpmnlint/dist",
    "chartjs": "chart.js/dist",  # the trends page's charts (apflow/web/static/trends.js)
    # The editor's descriptors of Camunda 7 and 8 extension elements (apflow/web/static/modeler.js loads them).
    "camunda-moddle": "camunda-bpmn-moddle/resources",
    "zeebe-moddle": "zeebe-bpmn-moddle/resources",
    "lint-rules": "../build",  # our lint rules, packed by `npm run build` (see frontend/package.json)
}

bp = Blueprint("assets", __name__)


@bp.get("/vendor/<name>/<path:filename>")
def vendor(name, filename):
    folder = VENDOR.get(name)
    if folder is None:
        abort(404)
    response = send_from_directory(NODE_MODULES / folder, filename, max_age=86400)
    response.headers["X-Content-Type-Options"] = "nosniff"
    return response
