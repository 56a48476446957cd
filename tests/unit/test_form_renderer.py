"""The browser form renderer gives every field of every shipped form an input, and reads lists back (issue 13:
the commencement review's required Targets list once rendered with no input and no Add button)."""
import json

from werkzeug.datastructures import MultiDict

from apflow.config import ROOT
from apflow.web import forms

SCHEMA = json.loads((ROOT / "forms" / "commencement_review.schema.json").read_text())
KINDS_WITH_INPUTS = {"time", "text", "textarea", "number", "date", "email", "select", "radio", "checkboxes", "checkbox", "group", "list", "file"}


def test_a_required_list_of_free_entries_starts_with_one_input():
    [targets] = [f for f in forms.build(SCHEMA, {}, {}, {}) if f.key == "targets"]
    assert targets.kind == "list" and targets.rows == [""]


def test_list_entries_are_read_back_added_and_removed():
    posted = MultiDict({"targets.count": "3", "targets.0": "Attend every session", "targets.1": "  ", "targets.2": "Finish unit 1"})
    assert forms.parse(SCHEMA, {}, posted)["targets"] == ["Attend every session", "Finish unit 1"]
    assert forms.parse(SCHEMA, {}, MultiDict({**posted, "add_row": "targets"}))["targets"] == ["Attend every session", "Finish unit 1", ""]
    assert forms.parse(SCHEMA, {}, MultiDict({**posted, "remove_row": "targets.0"}))["targets"] == ["Finish unit 1"]


def test_every_field_of_every_shipped_form_has_an_input():
    for path in sorted((ROOT / "forms").glob("*.schema.json")):
        schema = json.loads(path.read_text())
        ui_path = path.with_name(path.name.replace(".schema.json", ".uischema.json"))
        ui = json.loads(ui_path.read_text()) if ui_path.exists() else {}
        fields = forms.build(schema, ui, {}, {})
        for field in fields + [sub for f in fields for row in f.rows if isinstance(row, list) for sub in row]:
            assert field.kind in KINDS_WITH_INPUTS, (path.name, field.key)
            if field.kind in ("radio", "checkboxes", "select"):
                assert field.options, (path.name, field.key)


def test_messages_and_labels_carry_no_rule_codes_or_doubled_optional_marks():
    """People read plain words: rule numbers like (R60) belong in the docs, and the renderer adds "(optional)" itself."""
    import re

    from apflow.config import ROOT

    for path in sorted((ROOT / "forms").glob("*.json")):
        text = path.read_text()
        assert not re.search(r"\(R\d+", text), path.name
        assert "(optional)" not in text, path.name
    for path in sorted((ROOT / "apflow").rglob("*.py")):
        for line in path.read_text().splitlines():
            if re.search(r"raise (Invalid|Conflict|NotFound|Forbidden)\(", line):
                assert not re.search(r"\(R\d+", line), f"{path.name}: {line.strip()}"


def test_session_times_are_picked_with_a_time_input_not_typed():
    schema = json.loads((ROOT / "forms" / "allocation.schema.json").read_text())
    ui = json.loads((ROOT / "forms" / "allocation.uischema.json").read_text())
    [sessions] = [f for f in forms.build(schema, ui, {"sessions": [{"day": "Monday"}]}, {}) if f.key == "sessions"]
    assert {f.key: f.kind for f in sessions.rows[0]}["starts"] == "time"


def test_choices_without_labels_keep_their_acronyms_in_words():
    from apflow.engine.forms import option_labels

    labels = dict(option_labels({"enum": ["la", "ppe", "no_ehc_plan", "social_care", "lado"]}, {}))
    assert labels == {"la": "LA", "ppe": "PPE", "no_ehc_plan": "No EHC plan", "social_care": "Social care", "lado": "LADO"}
