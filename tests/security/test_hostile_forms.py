"""Hostile forms and hostile answers (issue 14): forms are data, not programs, and no data can brick an instance.

Each attack that once passed validate and deploy is now refused with a message saying what to change, or (for a
pattern) runs on RE2, which never backtracks: proved by counting, not by timing.
"""
from __future__ import annotations

import json
import re
import urllib.request
from contextlib import contextmanager

import jsonschema._keywords
import pytest
from referencing.exceptions import Unresolvable

from apflow.config import ROOT
from apflow.engine import forms, patterns, payloads
from apflow.engine.forms import Form
from apflow.engine.validate import check
from apflow.errors import Invalid, NotFound
from apflow.services import calendars, form_library, instances, processes
from apflow.services.records import KNOWN_KINDS
from tests.bpmn_builder import flow_diagram
from tests.support import PASSWORD

FORMS = ROOT / "forms"
EVIL_PATTERN = "^(a+)+$"  # Python's re takes 2^n steps on "a" * n + "!"


def shipped_form(name: str) -> Form:
    return Form(json.loads((FORMS / name).read_text()))


def schema(**fields) -> dict:
    return {"type": "object", "properties": fields}


def deploy_problems(form: dict, name: str = "hostile.schema.json") -> list:
    """The problems `apflow validate` (and deploy) reports for a diagram whose task uses this form."""
    return check({"hostile.bpmn": flow_diagram(form=name).encode()}, FORMS, form_overrides={name: json.dumps(form).encode()},
                 record_kinds=KNOWN_KINDS).problems


def refused(form: dict, *words: str) -> str:
    problems = deploy_problems(form)
    assert problems, "the form should have been refused"
    assert all(p.fix for p in problems)
    text = " ".join(f"{p.message} {p.fix}" for p in problems)
    for word in words:
        assert word.lower() in text.lower(), text
    return text


@contextmanager
def no_backtracking(monkeypatch, used: list):
    """Inside, any use of Python's backtracking `re` is counted and fails at once (instead of hanging the test)."""
    def refuse(*args, **kwargs):
        used.append(args[:1])
        raise AssertionError("Python's backtracking re was used to check an answer")

    with monkeypatch.context() as patch:
        for name in ("search", "match", "fullmatch", "compile", "findall", "finditer", "sub", "split"):
            patch.setattr(re, name, refuse)
        yield


# -- patterns ------------------------------------------------------------------------------------------

def test_a_catastrophic_pattern_runs_in_linear_time_on_re2(monkeypatch):
    form = Form(schema(
        code={"type": "string", "pattern": EVIL_PATTERN},
        tags={"type": "object", "patternProperties": {EVIL_PATTERN: {"type": "string"}}, "additionalProperties": False},
        rule={"type": "string", "format": "regex"},
    ))
    assert deploy_problems(form.schema) == []  # RE2 runs this pattern, so it deploys
    patterns.regex.cache_clear()
    results, used = {}, []
    with no_backtracking(monkeypatch, used):
        for n in (50_000, 100_000):  # Python's re would need 2^50000 steps for the first
            evil = "a" * n + "!"
            results[n] = (form.errors({"code": evil, "tags": {evil: "x"}, "rule": "(" * 10 + "a" * n + ")" * 10}),
                          form.errors({"code": "a" * n, "tags": {"a" * n: "x"}}))
    assert used == []
    for refused_answers, accepted in results.values():
        assert set(refused_answers) == {"code", "tags"}  # no match; the key matches no pattern, so it is an extra
        assert accepted == {}
    # one RE2 compilation per pattern, whatever the length of the answers
    assert patterns.regex.cache_info().misses == 1


@pytest.mark.parametrize("field, words", [
    ({"type": "string", "pattern": "^(a)\\1$"}, ["back-reference", "'postcode'"]),
    ({"type": "string", "pattern": "^(?=.*[0-9])\\w+$"}, ["look-around", "'postcode'"]),
    ({"type": "object", "patternProperties": {"^(?!x)": {}}}, ["look-around", "'postcode'"]),
])
def test_a_pattern_re2_cannot_run_is_refused_at_deploy_naming_the_field(field, words):
    refused(schema(postcode=field), "cannot be used", "RE2", "linear time", *words)


def test_patterns_in_a_form_saved_in_the_browser_are_checked_too(core, people):
    content = json.dumps(schema(postcode={"type": "string", "pattern": "(\\w)\\1"}))
    with pytest.raises(Invalid) as err:
        form_library.save_form(core, people["manager"], "hostile.schema.json", content, 0)
    assert "'postcode'" in json.dumps(err.value.details)
    with pytest.raises(NotFound):
        form_library.get_form(core, people["manager"], "hostile.schema.json")


# -- uniqueItems and array sizes -------------------------------------------------------------------------

def test_unique_items_over_mixed_items_costs_one_lookup_per_item(monkeypatch):
    form = shipped_form("triage_referral.schema.json")  # "reasons": uniqueItems
    encoded = []
    canonical = forms._canonical
    monkeypatch.setattr(forms, "_canonical", lambda value: encoded.append(value) or canonical(value))
    monkeypatch.setattr(jsonschema._keywords, "uniq", lambda items: pytest.fail("pairwise uniqueness check used"))
    for n in (200, 400):
        encoded.clear()
        mixed = [[{"k": i, "v": [i, str(i)]}, str(i), i + 0.5][i % 3] for i in range(n)]
        errors = form.errors({"reasons": [*mixed, {"v": [0, "0"], "k": 0.0}], "decision": "accept", "rationale": "Attendance is falling"})
        assert errors["reasons"] == ["Reasons for referral: give each entry only once."]  # the last repeats the first
        assert len(encoded) == n + 1  # linear: one encoding per item, no comparisons of pairs
    duplicates = form.errors({"reasons": [{"a": 1, "b": [2]}, {"b": [2.0], "a": 1.0}]})
    assert "Reasons for referral: give each entry only once." in duplicates["reasons"]


def test_a_list_longer_than_the_limit_is_refused_before_any_check(core, people, triage):
    [task] = instances.list_ready_tasks(core, people["coordinator"], start(core, people)["id"])
    with pytest.raises(Invalid) as err:
        instances.complete_task(core, people["coordinator"], task["id"], {"reasons": ["attendance"] * (payloads.MAX_ITEMS + 1)})
    assert f"at most {payloads.MAX_ITEMS}" in err.value.message and "reasons" in err.value.details["fields"]


def test_a_form_allowing_more_rows_than_the_limit_is_refused_at_deploy():
    refused(schema(rows={"type": "array", "maxItems": 100_000, "items": {"type": "string"}}), f"at most {payloads.MAX_ITEMS}")


@pytest.mark.parametrize("data, words", [
    ({"note": "x" * (payloads.MAX_DATA_BYTES + 1)}, "KiB"),
    ({"deep": json.loads("[" * (payloads.MAX_DEPTH + 1) + "]" * (payloads.MAX_DEPTH + 1))}, "levels deep"),
    ({"n": float("nan")}, "ordinary number"),
    ({"note": "\ud800"}, "not valid Unicode"),
])
def test_start_data_without_a_start_form_is_a_bounded_json_object(core, people, triage, data, words):
    with pytest.raises(Invalid) as err:
        instances.start_instance(core, people["coordinator"], "referral_triage", data)
    assert words in err.value.message


# -- $ref ----------------------------------------------------------------------------------------------

@pytest.mark.parametrize("ref", ["https://attacker.example/schema.json", "file:///etc/passwd", "/etc/passwd", "#anchor"])
def test_a_ref_outside_the_form_is_refused_at_deploy(ref):
    refused(schema(pupil={"$ref": ref}), "points outside the form", "'pupil'")


def test_a_ref_outside_the_form_is_refused_in_the_form_library(core, people):
    content = json.dumps(schema(pupil={"$ref": "https://attacker.example/schema.json"}))
    with pytest.raises(Invalid) as err:
        form_library.save_form(core, people["manager"], "hostile.schema.json", content, 0)
    assert "points outside the form" in json.dumps(err.value.details)
    _, _, problems = form_library.preview_form(people["manager"], content)
    assert problems


def test_local_refs_are_followed():
    form = {**schema(home={"$ref": "#/$defs/address"}), "$defs": {"address": {"type": "string", "minLength": 5}}}
    assert deploy_problems(form) == []
    assert Form(form).errors({"home": "x"}) == {"home": ["home: write at least 5 characters."]}


@pytest.mark.parametrize("form, words", [
    (schema(a={"$ref": "#"}), "leads back to itself"),
    ({**schema(a={"$ref": "#/$defs/x"}), "$defs": {"x": {"anyOf": [{"$ref": "#/$defs/x"}]}}}, "leads back to itself"),
    ({**schema(a={"$ref": "#/$defs/d30"}),  # each level uses the one below twice: 2^30 checks per answer
      "$defs": {"d0": {"type": "string"}, **{f"d{i}": {"allOf": [{"$ref": f"#/$defs/d{i - 1}"}] * 2} for i in range(1, 31)}}},
     f"at most {forms.MAX_SCHEMA_NODES}"),
    (schema(a={"$ref": "#/$defs/missing"}), "not in the form"),
    (schema(a={"$id": "https://attacker.example/", "type": "string"}), '"$id"'),
])
def test_refs_that_loop_multiply_or_dangle_are_refused(form, words):
    refused(form, words)


def test_a_form_deployed_before_these_checks_never_fetches_its_refs(monkeypatch):
    opened = []
    monkeypatch.setattr(urllib.request, "urlopen", lambda *args, **kwargs: opened.append(args) or pytest.fail("a $ref was fetched"))
    hostile = schema(pupil={"$ref": "https://attacker.example/schema.json"}, notes={"$ref": "file:///etc/passwd"})
    errors = Form(hostile).errors({"pupil": "x"})
    assert "cannot be checked safely" in errors[""][0] and "deploy the process again" in errors[""][0]
    with pytest.raises(Unresolvable):  # even unchecked, the validator's registry refuses to fetch
        list(forms.answer_validator(hostile).iter_errors({"pupil": "x"}))
    assert opened == []


# -- serializer markers ----------------------------------------------------------------------------------

def test_spiffworkflow_still_reads_typename_in_data_as_its_own_object(core):
    """The reason for the marker check: if an upgrade stops (or starts) treating a key specially, this says so."""
    assert "typename" in payloads.SERIALIZER_MARKERS
    with pytest.raises(Exception):
        core.host.registry.restore({"typename": "NoSuchClass", "name": "x"})
    assert core.host.registry.restore({"name": "x", "rows": [{"a": 1}]}) == {"name": "x", "rows": [{"a": 1}]}


@pytest.fixture
def api(core, people):
    from apflow.web import create_app

    client = create_app(core=core, run_scheduler=False).test_client()
    token = client.post("/api/v1/tokens", json={"username": "coord", "password": PASSWORD}).json["token"]
    client.auth = {"Authorization": f"Bearer {token}"}
    return client


def start(core, people, process_id="referral_triage", data=None):
    return instances.start_instance(core, people["coordinator"], process_id, data if data is not None else {"reasons": ["attendance"]})


def test_a_typename_in_a_repeating_group_row_is_refused_and_the_placement_stays_readable(core, people, api):
    calendars.import_csv(core, calendars.DEMO_TERMS.read_text(), by="test")  # its first task is due in school days
    processes.deploy_paths(core, [ROOT / "bpmn" / "service_level_agreement.bpmn", ROOT / "bpmn" / "provider_approval.bpmn"], by="test")
    iid = start(core, people, "provider_approval", {})["id"]
    [task] = instances.list_ready_tasks(core, people["coordinator"], iid)
    answers = {"provider_name": "Bridges Learning", "address": "1 Mill Lane, Northtown", "contact_name": "Ann Lee", "rlp_policy": "required",
               "sites": [{"name": "Mill Lane", "address": "1 Mill Lane, Northtown", "kind": "main"}]}
    hostile = {**answers, "sites": [{**answers["sites"][0], "typename": "BpmnWorkflow"}]}

    response = api.post(f"/api/v1/tasks/{task['id']}/complete", json={"data": hostile}, headers=api.auth)
    assert response.status_code == 422, response.json
    assert "sites.0.typename" in response.json["error"]["message"]
    assert "keeps for itself" in response.json["error"]["details"]["fields"]["sites.0.typename"][0]

    assert api.get(f"/api/v1/instances/{iid}", headers=api.auth).status_code == 200
    assert api.post(f"/api/v1/tasks/{task['id']}/complete", json={"data": answers}, headers=api.auth).status_code == 200
    assert api.get(f"/api/v1/instances/{iid}", headers=api.auth).status_code == 200


def test_a_typename_anywhere_in_start_data_is_refused(core, people, triage, api):
    data = {"reasons": ["attendance"], "extra": {"rows": [{"ok": 1}, {"typename": "BpmnWorkflow"}]}}
    response = api.post("/api/v1/processes/referral_triage/instances", json={"data": data}, headers=api.auth)
    assert response.status_code == 422, response.json
    assert "extra.rows.1.typename" in response.json["error"]["message"]
    assert instances.list_ready_tasks(core, people["coordinator"]) == []  # nothing was started


# -- start forms -------------------------------------------------------------------------------------------

def test_a_start_form_checks_start_data(core, people, tmp_path):
    diagram = tmp_path / "started.bpmn"
    diagram.write_text(flow_diagram(pid="started").replace(
        '<bpmn:startEvent id="StartEvent_1">',
        '<bpmn:startEvent id="StartEvent_1"><bpmn:extensionElements><spiffworkflow:properties>'
        '<spiffworkflow:property name="formJsonSchemaFilename" value="triage_referral.schema.json" />'
        '</spiffworkflow:properties></bpmn:extensionElements>'))
    processes.deploy_paths(core, [diagram], by="test")
    with pytest.raises(Invalid) as err:
        start(core, people, "started", {"reasons": ["attendance"], "pupil": "Sam"})
    assert set(err.value.details["fields"]) == {"pupil", "decision", "rationale"}
    good = {"reasons": ["attendance"], "decision": "accept", "rationale": "Attendance below half"}
    assert start(core, people, "started", good)["status"] == "running"
