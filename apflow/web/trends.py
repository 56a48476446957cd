"""The trends page and API (R112, value for money for R114): figures term by term for school and LA staff, each
chart beside its table of numbers, each table a CSV download; the same figures as JSON under /api/v1/trends."""
from __future__ import annotations

from flask import Blueprint, abort, jsonify, render_template, request
from flask_login import current_user, login_required

from apflow.errors import Invalid
from apflow.services import trends

from .auth import api_user, current_core
from .downloads import attachment

bp = Blueprint("trends", __name__)
api_bp = Blueprint("trends_api", __name__)


def _filter_args() -> dict:
    """The query string's filters, for links that keep them (the CSV downloads)."""
    return {k: v for k, v in request.args.items() if k in ("provider", "reason", "year_group", "placement_type") and v}


@bp.get("/trends")
@login_required
def trends_page():
    core, user = current_core(), current_user.user
    errors, status = {}, 200
    try:
        filters = trends.parse_filters(request.args)
    except Invalid as err:  # show every figure unfiltered, with what to fix beside each filter
        filters, errors, status = trends.Filters(), err.details.get("fields", {}), 422
    result = trends.figures(core, user, filters)
    return render_template("trends.html", result=result, errors=errors, args=request.args,
                           kept={} if errors else _filter_args()), status


@bp.get("/trends/<key>.csv")
@login_required
def table_csv(key):
    result = trends.figures(current_core(), current_user.user, trends.parse_filters(request.args))
    table = result["tables"].get(key)
    if table is None:
        abort(404)
    return attachment(trends.table_csv(table), f"trends-{key}.csv", "text/csv")


@api_bp.get("/trends")
def trends_api():
    return jsonify(trends.figures(current_core(), api_user(), trends.parse_filters(request.args)))
