"""A start request whose answer was lost, sent again with the same Idempotency-Key, starts one instance, not two; the
same holds for the other POSTs that create something (here: a pupil's contact)."""
from datetime import timedelta

from sqlalchemy import func, select

from apflow.services import idempotency
from apflow.store.models import IdempotencyKey, Instance
from apflow.web import create_app
from tests.support import browser

START = "/api/v1/processes/referral_triage/instances"
BODY = {"data": {"pupil_name": "Jordan T.", "reasons": ["attendance"]}}


def count(core, model):
    with core.db.session(readonly=True) as s:
        return s.scalar(select(func.count()).select_from(model))


def signed_in(core, username="coord"):
    client = browser(create_app(core=core, run_scheduler=False), username)
    client.key_headers = lambda key: {"X-CSRF-Token": client.csrf, "Idempotency-Key": key}
    return client


def test_a_start_sent_again_with_the_same_key_gets_the_first_answer_and_starts_once(core, people, triage):
    client = signed_in(core)
    first = client.post(START, json=BODY, headers=client.key_headers("start-1"))
    assert first.status_code == 201
    again = client.post(START, json=BODY, headers=client.key_headers("start-1"))
    assert again.status_code == 201 and again.get_json() == first.get_json()
    assert again.headers["Idempotent-Replayed"] == "true"
    assert count(core, Instance) == 1

    other = client.post(START, json=BODY, headers=client.key_headers("start-2"))  # a new key is a new request
    assert other.status_code == 201 and other.get_json()["id"] != first.get_json()["id"]
    assert client.post(START, json=BODY, headers={"X-CSRF-Token": client.csrf}).status_code == 201  # no key: as before
    assert count(core, Instance) == 3


def test_the_same_key_with_a_different_body_is_refused(core, people, triage):
    client = signed_in(core)
    assert client.post(START, json=BODY, headers=client.key_headers("k")).status_code == 201
    changed = client.post(START, json={"data": {"pupil_name": "Sam P.", "reasons": ["attendance"]}}, headers=client.key_headers("k"))
    assert changed.status_code == 422
    assert "already used for a different request" in changed.get_json()["error"]["message"]
    assert count(core, Instance) == 1


def test_a_repeat_while_the_first_still_runs_is_told_to_wait(core, people, triage, frozen_clock):
    client = signed_in(core)
    # The first request holds the key and has not answered yet (as it would while its step runs).
    idempotency.begin(core, people["coordinator"], "slow", f"POST {START}", _fingerprint_of_start(client))
    waiting = client.post(START, json=BODY, headers=client.key_headers("slow"))
    assert waiting.status_code == 409
    assert "still being processed" in waiting.get_json()["error"]["message"]
    assert count(core, Instance) == 0
    # A first request that never stored its answer (its database failed half-way) frees the key after a while.
    frozen_clock.advance(idempotency.ABANDONED_AFTER + timedelta(seconds=1))
    assert client.post(START, json=BODY, headers=client.key_headers("slow")).status_code == 201
    assert count(core, Instance) == 1


def _fingerprint_of_start(client):
    """The fingerprint the web layer gives the start request, read from a request context like the real one."""
    from flask import json

    from apflow.web import idempotency as web_idempotency

    with client.application.test_request_context(START, method="POST", data=json.dumps(BODY), content_type="application/json"):
        return web_idempotency._fingerprint()


def test_a_refused_request_does_not_use_the_key_up(core, people, triage):
    client = signed_in(core)
    refused = client.post(START, json={"data": "not an object"}, headers=client.key_headers("fix-me"))
    assert refused.status_code == 422
    assert count(core, IdempotencyKey) == 0
    assert client.post(START, json=BODY, headers=client.key_headers("fix-me")).status_code == 201


def test_keys_are_per_person_and_a_bad_key_is_a_400(core, people, triage):
    coord, other = signed_in(core, "coord"), signed_in(core, "coord2")
    assert coord.post(START, json=BODY, headers=coord.key_headers("shared")).status_code == 201
    assert other.post(START, json=BODY, headers=other.key_headers("shared")).status_code == 201  # not coord's answer
    assert count(core, Instance) == 2
    for bad in ["x" * 201, "caf\u00e9", " "]:
        header = bad.encode("utf-8").decode("latin-1")  # as it arrives over HTTP
        response = coord.post(START, json=BODY, headers={"X-CSRF-Token": coord.csrf, "Idempotency-Key": header})
        assert response.status_code == 400 and "Idempotency-Key" in response.get_json()["error"]["message"]


def test_every_create_honours_the_key_e_g_a_member_of_staff_added_twice_is_added_once(core, people, triage):
    """The key is read for every POST of the API (contacts, concerns, incidents, staff, ...), not only starts."""
    from apflow.store.models import User

    client = signed_in(core, "boss")
    body = {"username": "newbie", "display_name": "New Bie", "email": "newbie@school.example", "roles": ["coordinator"]}
    first = client.post("/api/v1/people", json=body, headers=client.key_headers("add-newbie"))
    assert first.status_code == 201, first.get_data(as_text=True)
    again = client.post("/api/v1/people", json=body, headers=client.key_headers("add-newbie"))
    assert again.status_code == 201 and again.get_json() == first.get_json()
    with core.db.session(readonly=True) as s:
        assert s.scalar(select(func.count()).select_from(User).where(User.username == "newbie")) == 1


def test_housekeeping_forgets_keys_after_a_day(core, people, triage, frozen_clock):
    from apflow.scheduler import TimerScheduler

    client = signed_in(core)
    assert client.post(START, json=BODY, headers=client.key_headers("old")).status_code == 201
    frozen_clock.advance(timedelta(hours=23))
    assert client.post(START, json=BODY, headers=client.key_headers("new")).status_code == 201
    frozen_clock.advance(timedelta(hours=2))
    TimerScheduler(core).housekeeping()
    with core.db.session(readonly=True) as s:
        assert [k.key for k in s.scalars(select(IdempotencyKey))] == ["new"]
    assert client.post(START, json=BODY, headers=client.key_headers("old")).status_code == 201  # forgotten: runs again
    assert count(core, Instance) == 3
