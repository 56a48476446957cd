"""The malformed requests the fault injector found giving 500s each get a 4xx that says what is wrong, and nothing of
them reaches the database: deep JSON, ids beyond what an id column holds, NUL characters, lone surrogates, NaN and Infinity (which
SQLite would store and then serve back as invalid JSON), invalid UTF-8, and form posts with NUL."""
import json

import pytest
from sqlalchemy import func, select

from apflow.store.models import Instance
from apflow.web import create_app
from tests.support import browser

START = "/api/v1/processes/referral_triage/instances"


@pytest.fixture
def client(core, people, triage):
    client = browser(create_app(core=core, run_scheduler=False), "coord")
    client.headers = {"X-CSRF-Token": client.csrf, "Content-Type": "application/json"}
    return client


def instance_count(core):
    with core.db.session(readonly=True) as s:
        return s.scalar(select(func.count()).select_from(Instance))


def assert_refused(response, words: str, status: int = 400):
    assert response.status_code == status, (response.status_code, response.get_data(as_text=True)[:300])
    error = response.get_json()["error"]
    assert words in error["message"], error["message"]
    assert "Traceback" not in error["message"] and "SELECT" not in error["message"]


MALFORMED_JSON = [
    ('{"data": {"score": NaN}}', "NaN"),
    ('{"data": {"score": Infinity}}', "Infinity"),
    ('{"data": {"score": -Infinity}}', "-Infinity"),
    ('{"data": {"score": 1e999}}', "too large"),
    ('{"data": {"count": 99999999999999999999}}', "too large"),
    ('{"data": {"count": -9223372036854775809}}', "too large"),
    ('{"data": {"pupil_name": "Jordan\\u0000T."}}', "NUL character"),
    ('{"data": {"pupil_name": "Jordan \\ud800"}}', "lone UTF-16 surrogate"),
    ('{"data": {"\\udfff": "x"}}', "lone UTF-16 surrogate"),
    ('{"data": ' + "[" * 100_000 + "]" * 100_000 + "}", "nested too deeply"),
    ('{"data": ' + "[" * 65 + "]" * 65 + "}", "nested too deeply"),
    ('{"data": {"pupil_name": "Jordan"', "not valid JSON"),
    (b'{"data": {"pupil_name": "\xff\xfe"}}', "not UTF-8"),
]


def test_malformed_json_is_a_400_that_says_why_and_stores_nothing(core, client):
    for body, words in MALFORMED_JSON:
        assert_refused(client.post(START, data=body, headers=client.headers), words)
    assert instance_count(core) == 0
    allowed = {"pupil_name": "Jordan T.", "reasons": ["attendance"], "score": 2.5, "count": 2 ** 63 - 1, "nested": [[[1]]]}
    body = json.dumps({"data": allowed})
    assert client.post(START, data=body, headers=client.headers).status_code == 201  # what JSON allows still passes


def test_ids_beyond_the_id_columns_are_not_found(client):
    for path in ["/api/v1/instances/99999999999999999999", "/api/v1/instances/9223372036854775808", "/api/v1/instances/2147483648",
                 "/api/v1/instances/" + "9" * 5000,
                 "/api/v1/placements/18446744073709551616/incidents", "/api/v1/people/99999999999999999999/roles"]:
        response = client.get(path) if "roles" not in path else client.put(path, json={"roles": []}, headers=client.headers)
        assert response.status_code == 404, path
        assert response.get_json()["error"]["code"] == "not_found"
    response = client.get(f"/api/v1/instances/{2 ** 31 - 1}")  # the largest is an ordinary id, looked up and not there
    assert response.status_code == 404 and "no instance" in response.get_json()["error"]["message"].lower()


def test_nul_and_odd_numbers_in_the_address_or_query_string_are_4xx(client):
    for path in ["/api/v1/tasks/abc%00def", "/api/v1/pupils/NEST%00/contacts", "/api/v1/inbox?search=a%00b",
                 "/api/v1/tasks?instance=1%002"]:
        assert_refused(client.get(path), "NUL character")
    for path in ["/api/v1/tasks?limit=%C2%B2", "/api/v1/tasks?instance=99999999999999999999999", "/api/v1/tasks?offset=-1"]:
        response = client.get(path)
        assert response.status_code == 422, (path, response.get_data(as_text=True)[:300])


def test_a_form_post_with_a_nul_is_a_400_page(core, people, triage):
    client = browser(create_app(core=core, run_scheduler=False), "boss")
    response = client.post("/calendar", data={"csrf_token": client.csrf, "csv": "kind,name,start,end\x00\n"})
    assert response.status_code == 400 and response.mimetype == "text/html"
    assert "NUL character" in response.get_data(as_text=True)
