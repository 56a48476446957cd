"""Fuzz the JSON API from its own OpenAPI document: schemathesis makes requests that fit each operation's schema and
requests that break it (wrong types, missing fields, odd strings, huge numbers), sends them to the Flask app in
process (WSGI), signed in as a manager; none may get a 500. Bounded and derandomized: the same examples every run."""
import pytest
from hypothesis import HealthCheck, Phase, given, settings
from schemathesis import GenerationMode, openapi

from apflow.web import create_app
from tests.support import PASSWORD

EXAMPLES = 4  # per operation and run: about 800 requests in all


@pytest.fixture
def world(core, people, triage):
    """A running triage placement with a ready task, so operations can also be sent at things that exist."""
    from apflow.services import instances

    started = instances.start_instance(core, people["coordinator"], "referral_triage",
                                       {"pupil_name": "Jordan T.", "pupil_ref": "NEST-0142", "reasons": ["attendance"]})
    [task] = instances.list_ready_tasks(core, people["coordinator"], started["id"])
    app = create_app(core=core, run_scheduler=False)
    known = {"process_id": "referral_triage", "task_id": task["id"], "instance_id": started["id"], "ref": "NEST-0142",
             "name": "triage_referral.schema.json", "version": 1, "user_id": people["coordinator"].id, "action": "claim"}
    return app, known


def manager_token(app) -> str:
    response = app.test_client().post("/api/v1/tokens", json={"username": "boss", "password": PASSWORD})
    assert response.status_code == 201, response.get_data(as_text=True)
    return response.get_json()["token"]


def test_no_request_the_api_describes_gets_a_500(world):
    app, known = world
    schema = openapi.from_wsgi("/api/v1/openapi.json", app)
    server_errors, sent = [], [0]

    for result in schema.get_all_operations():
        operation = result.ok()
        auth = {"Authorization": f"Bearer {manager_token(app)}"}  # afresh: an operation may sign the last one out
        names = {p.name for p in operation.path_parameters}
        runs = [(GenerationMode.POSITIVE, None), (GenerationMode.NEGATIVE, None)]
        if names and names <= set(known):  # and at things that exist, to get past the "not found"
            runs.append((GenerationMode.POSITIVE, {name: known[name] for name in names}))
        for mode, path_parameters in runs:
            @settings(max_examples=EXAMPLES, derandomize=True, database=None, deadline=None, phases=[Phase.explicit, Phase.generate],
                      suppress_health_check=list(HealthCheck))
            @given(case=operation.as_strategy(generation_mode=mode, path_parameters=path_parameters))
            def send(case):
                response = case.call(headers=auth)
                sent[0] += 1
                if response.status_code >= 500:
                    server_errors.append(f"{case.method} {case.formatted_path} ({mode.value}) -> {response.status_code}\n"
                                         f"{case.as_curl_command(headers=auth)}\n{response.text[:300]}")

            send()
    assert sent[0] > 400
    assert not server_errors, "\n\n".join(server_errors[:20])
