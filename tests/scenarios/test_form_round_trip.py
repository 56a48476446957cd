"""Every shipped form is completed through the browser renderer (issue 13): rendered as the task page renders it,
filled with believable answers, submitted as a browser would submit the HTML, and read back to the same answers,
which the form accepts. A field that renders with no input, or an input whose value does not come back, fails here."""
import json
from html.parser import HTMLParser

import pytest
from werkzeug.datastructures import MultiDict

from apflow.config import ROOT
from apflow.engine.forms import Form
from apflow.web import forms
from tests.scenarios.conftest import answers

FORMS = sorted(p.name.replace(".schema.json", "") for p in (ROOT / "forms").glob("*.schema.json"))
EXTRA = {"triage_referral": {"decision": "accept", "reasons": ["attendance"], "rationale": "Attendance 40% and falling."},
         "chase_triage": {"outcome": "Spoke to the school; triage is under way."}}


class Submission(HTMLParser):
    """The name/value pairs a browser sends for a form: checked boxes, selected options, text, hidden inputs."""

    def __init__(self):
        super().__init__()
        self.pairs, self._select, self._textarea, self._text = [], None, None, []

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag == "input" and a.get("name") and a.get("type") not in ("file", "submit"):
            if a.get("type") not in ("checkbox", "radio") or "checked" in a:
                self.pairs.append((a["name"], a.get("value", "on")))
        elif tag == "select":
            self._select = a.get("name")
        elif tag == "option" and self._select and "selected" in a:
            self.pairs.append((self._select, a.get("value", "")))
        elif tag == "textarea":
            self._textarea, self._text = a.get("name"), []

    def handle_endtag(self, tag):
        if tag == "select":
            self._select = None
        elif tag == "textarea" and self._textarea:
            self.pairs.append((self._textarea, "".join(self._text)))
            self._textarea = None

    def handle_data(self, data):
        if self._textarea:
            self._text.append(data)


def _load(name):
    schema = json.loads((ROOT / "forms" / f"{name}.schema.json").read_text())
    ui_path = ROOT / "forms" / f"{name}.uischema.json"
    return schema, json.loads(ui_path.read_text()) if ui_path.exists() else {}


@pytest.mark.parametrize("name", FORMS)
def test_every_form_is_completed_through_the_renderer(app, name):
    schema, ui = _load(name)
    files = set(forms.file_fields(schema, ui))
    given = {**(answers(name) if name not in ("triage_referral", "chase_triage") else {}), **EXTRA.get(name, {})}
    sample = {k: v for k, v in given.items() if k in schema["properties"] and k not in files}
    with app.test_request_context():
        html = app.jinja_env.from_string('{% from "_macros.html" import render_field %}{% for f in fields %}{{ render_field(f) }}{% endfor %}'
                                         ).render(fields=forms.build(schema, ui, sample, {}))
    browser = Submission()
    browser.feed(html)
    back = {k: v for k, v in forms.parse(schema, ui, MultiDict(browser.pairs)).items() if k not in files}
    assert Form(schema, ui).errors(back) == {}, name
    assert {k: v for k, v in back.items() if v not in (None, "", [], False)} == {k: v for k, v in sample.items() if v not in (None, "", [], False)}
