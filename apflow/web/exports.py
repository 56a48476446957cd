"""Exports (issue 16, part 4): registers and attendance as CSV or XLSX, and the school census's AP return with the
problems to fix before it is sent. Pages and the same under /api/v1."""
from __future__ import annotations

from datetime import date

from flask import Blueprint, flash, jsonify, redirect, render_template, request, url_for
from flask_login import current_user, login_required

from apflow.errors import Invalid
from apflow.services import census, exports

from .auth import api_user, check_form_csrf, current_core
from .downloads import attachment

bp = Blueprint("exports", __name__)
api_bp = Blueprint("exports_api", __name__)


def _user():
    return current_user.user


bp.before_request(check_form_csrf)


def _date(field: str) -> date | None:
    text = request.args.get(field)
    if not text:
        return None
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise Invalid("Give the day as a date like 2026-01-12.", {"fields": {field: ["Use a date like 2026-01-12."]}}) from None


def _int(field: str) -> int | None:
    text = request.args.get(field)
    if not text:
        return None
    try:
        number = int(text)
    except ValueError:
        number = 0
    if not 1 <= number < 2**31:  # an id: larger ones exist nowhere (and would overflow the database's integer)
        raise Invalid(f"'{field}' is the number of one from the list.", {"fields": {field: ["Choose from the list."]}})
    return number


def _scope() -> exports.Scope:
    return exports.Scope(placement_id=_int("placement"), provider_id=_int("provider"))


def _register_file(user, fmt: str):
    content, filename, mimetype = exports.register_export(current_core(), user, fmt, _scope(), _date("from"), _date("to"), route=request.path)
    return attachment(content, filename, mimetype, **{"Cache-Control": "no-store"})


# -- registers ------------------------------------------------------------------------------------------------------

@bp.get("/exports")
@login_required
def exports_page():
    return render_template("exports.html", choices=exports.export_choices(current_core(), _user()))


@bp.get("/exports/registers.<fmt>")
@login_required
def registers_file(fmt):
    return _register_file(_user(), fmt)


@api_bp.get("/exports/registers")
def registers_api():
    return _register_file(api_user(), request.args.get("format", "csv"))


# -- the school census's AP return ---------------------------------------------------------------------------------

FORMS = {"school": ("urn", "la_number", "estab_number"), "provider": ("urn", "ukprn", "setting_type"),
         "row": ("upn", "reason", "date_of_birth")}


@bp.route("/exports/census", methods=["GET", "POST"])
@login_required
def census_page():
    core, user = current_core(), _user()
    key, school = request.values.get("census") or None, _int("school")
    errors, posted, status = {}, {}, 200
    schools = census.schools(core, user)  # not found, before any form is read, for anyone who does not return a census
    if request.method == "POST":
        form, target = request.form.get("form", ""), request.form.get("target", "")
        values = {f: request.form.get(f, "") for f in FORMS.get(form, ()) if f in request.form}
        try:
            if form == "school":
                census.save_school_numbers(core, user, school, values)
            elif form == "provider":
                census.save_provider_numbers(core, user, school, target, values)
            elif form == "row":
                census.save_row(core, user, school, target, values)
            else:
                census.census_return(core, user, key, school)  # the school must be theirs before the form is refused
                raise Invalid("Unknown form: reload the page and try again.")
            flash("Saved.")
            return redirect(url_for("exports.census_page", census=key, school=school))
        except Invalid as err:
            errors, posted, status = err.details.get("fields", {}), {"form": form, "target": target, **values}, 422
            flash(err.message, "error")
    found = census.census_return(core, user, key, school)
    return render_template("census.html", found=found, schools=schools, errors=errors, posted=posted), status


@bp.get("/exports/census.csv")
@login_required
def census_file():
    content, filename, problems = census.census_csv(current_core(), _user(), request.args.get("census"), _int("school"), route=request.path)
    return attachment(content, filename, "text/csv; charset=utf-8", **{"Cache-Control": "no-store", "X-Census-Problems": str(problems)})


@api_bp.get("/census")
def census_api():
    return jsonify(census.census_return(current_core(), api_user(), request.args.get("census"), _int("school")))


@api_bp.get("/census.csv")
def census_file_api():
    content, filename, problems = census.census_csv(current_core(), api_user(), request.args.get("census"), _int("school"), route=request.path)
    return attachment(content, filename, "text/csv; charset=utf-8", **{"Cache-Control": "no-store", "X-Census-Problems": str(problems)})
