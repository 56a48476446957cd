"""Registers and whereabouts pages and API (R62, R71, R79): the provider's Today grid, a placement's register where the
school codes marks, and where the school's AP pupils are right now."""
from __future__ import annotations

from datetime import date

from flask import Blueprint, flash, jsonify, redirect, render_template, request, url_for
from flask_login import current_user, login_required

from apflow.errors import Invalid
from apflow.services import registers, whereabouts

from .auth import api_user, check_form_csrf, current_core
from .data_protection import note_reads  # the read log (issue 16: R111)

WHEREABOUTS_PAGE, WHEREABOUTS_PAGE_MAX = 500, 2000  # pupils per API answer: by default, and at most

bp = Blueprint("registers", __name__)
api_bp = Blueprint("registers_api", __name__)


def _user():
    return current_user.user


bp.before_request(check_form_csrf)


def _date(text: str | None, field: str) -> date | None:
    if not text:
        return None
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise Invalid("Give the day as a date like 2026-01-12.", {"fields": {field: ["Use a date like 2026-01-12."]}}) from None


# -- the provider's Today page --------------------------------------------------------------------------------------

def _posted_marks(form) -> tuple[list[dict], list[str]]:
    """The grid's rows as marks (rows left blank are not sent), and the rows 'All present' applies to."""
    marks, blank = [], []
    for key in form.getlist("key"):
        placement_id, day, starts = (key.split(":", 2) + ["", ""])[:3]
        status = form.get(f"status-{key}", "")
        if not status:
            blank.append(key)
            continue
        marks.append({"key": key, "placement_id": placement_id, "day": day, "starts": starts, "status": status,
                      "minutes_late": form.get(f"minutes-{key}") or None, "reason": form.get(f"reason-{key}", ""),
                      "note": form.get(f"note-{key}", "")})
    return marks, blank


@bp.route("/registers", methods=["GET", "POST"])
@login_required
def today_page():
    core, user = current_core(), _user()
    errors, values, status = {}, {}, 200
    day = _date(request.values.get("day"), "day")
    if request.method == "POST":
        marks, blank = _posted_marks(request.form)
        all_present = blank if request.form.get("all_present") else []
        try:
            saved = registers.record_marks(core, user, marks, all_present)
            flash(_saved_words(saved))
            return redirect(url_for("registers.today_page", day=day.isoformat() if day else None))
        except Invalid as err:
            errors, status = err.details.get("fields", {}), 422
            values = {m["key"]: m for m in marks}
            flash(err.message, "error")
    grid = registers.provider_day(core, user, day)
    note_reads(placement_ids=[r["placement_id"] for r in grid["rows"] + grid["missing"] if isinstance(r, dict) and "placement_id" in r])
    return render_template("registers_today.html", grid=grid, errors=errors, values=values), status


def _saved_words(saved: dict) -> str:
    words = f"Saved {saved['saved']} mark{'s' if saved['saved'] != 1 else ''}."
    if saved["unchanged"]:
        words += f" {saved['unchanged']} already said that."
    if saved["absences"]:
        words += " The school has been told of the absence" + ("s" if saved["absences"] > 1 else "") + "."
    return words


@api_bp.get("/registers")
def today_api():
    grid = registers.provider_day(current_core(), api_user(), _date(request.args.get("day"), "day"))
    note_reads(placement_ids=[r["placement_id"] for r in grid["rows"] + grid["missing"] if isinstance(r, dict) and "placement_id" in r])
    return jsonify(grid)


@api_bp.post("/registers")
def mark_api():
    body = request.get_json(silent=True)
    if not isinstance(body, dict):
        raise Invalid('Send {"marks": [{"placement_id": 1, "day": "2026-01-12", "starts": "09:30", "status": "present"}]}.')
    all_present = body.get("all_present") or []
    if not isinstance(all_present, list):
        raise Invalid('"all_present" is a list of sessions, each "placement_id:YYYY-MM-DD:HH:MM".')
    return jsonify(registers.record_marks(current_core(), api_user(), body.get("marks") or [], [str(k) for k in all_present]))


@api_bp.get("/registers/missing")
def missing_api():
    return jsonify({"missing": registers.missing_registers(current_core(), api_user())})


# -- a placement's register: the school codes and follows up -------------------------------------------------------

@bp.route("/placements/<int:instance_id>/register", methods=["GET", "POST"])
@login_required
def placement_page(instance_id):
    core, user = current_core(), _user()
    placement_id = registers.placement_of_instance(core, instance_id)
    since, until = _date(request.args.get("from"), "from"), _date(request.args.get("to"), "to")
    errors, status = {}, 200
    if request.method == "POST":
        codes = {k.removeprefix("code-"): v for k, v in request.form.items() if k.startswith("code-")}
        try:
            done = registers.code_marks(core, user, placement_id, codes, suggested=bool(request.form.get("suggested")))
            flash(f"Saved {done['coded']} code{'s' if done['coded'] != 1 else ''}.")
            return redirect(url_for("registers.placement_page", instance_id=instance_id, **request.args))
        except Invalid as err:
            errors, status = err.details.get("fields", {}), 422
            flash(err.message, "error")
    book = registers.placement_register(core, user, placement_id, since, until)
    return render_template("registers_placement.html", book=book, errors=errors), status


@api_bp.get("/placements/<int:placement_id>/register")
def placement_api(placement_id):
    return jsonify(registers.placement_register(current_core(), api_user(), placement_id, _date(request.args.get("from"), "from"),
                                                _date(request.args.get("to"), "to")))


@api_bp.post("/placements/<int:placement_id>/register/codes")
def codes_api(placement_id):
    body = request.get_json(silent=True)
    if not isinstance(body, dict):
        raise Invalid('Send {"codes": {"<mark id>": "B"}} or {"suggested": true}.')
    return jsonify(registers.code_marks(current_core(), api_user(), placement_id, body.get("codes") or {},
                                        suggested=body.get("suggested") is True))


# -- where the pupils are now (R62) ---------------------------------------------------------------------------------

@bp.get("/whereabouts")
@login_required
def whereabouts_page():
    search, attention = request.args.get("q", "")[:100], request.args.get("attention") == "1"
    page = int(request.args["page"]) if request.args.get("page", "").isdigit() and 0 < len(request.args["page"]) <= 6 else 1
    page = max(page, 1)
    found = whereabouts.listing(current_core(), _user(), search, attention, (page - 1) * whereabouts.PAGE)
    pages = max(1, -(-found["total"] // whereabouts.PAGE))
    if page > pages:  # past the end (the list got shorter): its last page
        page = pages
        found = whereabouts.listing(current_core(), _user(), search, attention, (page - 1) * whereabouts.PAGE)
    note_reads(refs=[p["pupil"]["ref"] for p in found["pupils"]])  # each pupil shown: their whereabouts read (R111)
    return render_template("whereabouts.html", pupils=found["pupils"], found=found, search=search, attention=attention,
                           page=page, pages=pages)


@bp.get("/pupils/<ref>/whereabouts")
@login_required
def pupil_whereabouts_page(ref):
    return render_template("whereabouts_pupil.html", where=whereabouts.one_pupil(current_core(), _user(), ref))


@api_bp.get("/whereabouts")
def whereabouts_api():
    limit, offset = request.args.get("limit", str(WHEREABOUTS_PAGE)), request.args.get("offset", "0")
    if not (limit.isascii() and limit.isdigit() and offset.isascii() and offset.isdigit() and len(offset) <= 9
            and 1 <= int(limit) <= WHEREABOUTS_PAGE_MAX):
        raise Invalid(f"`limit` is 1 to {WHEREABOUTS_PAGE_MAX} and `offset` a whole number.", {"limit": [limit], "offset": [offset]})
    attention = request.args.get("attention", "false")
    if attention not in ("true", "false"):
        raise Invalid("`attention` is true or false.", {"attention": [attention]})
    found = whereabouts.listing(current_core(), api_user(), request.args.get("q", "")[:100], attention == "true",
                                int(offset), int(limit))
    note_reads(refs=[p["pupil"]["ref"] for p in found["pupils"]])  # each pupil in the answer: their whereabouts read (R111)
    if found["offset"] + found["limit"] < found["total"]:
        found["next_offset"] = found["offset"] + found["limit"]
    return jsonify(found)


@api_bp.get("/pupils/<ref>/whereabouts")
def pupil_whereabouts_api(ref):
    return jsonify(whereabouts.one_pupil(current_core(), api_user(), ref))
