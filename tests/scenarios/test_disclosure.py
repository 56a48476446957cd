"""What each audience reads of a placement's workflow (R81, R6, R77): the school everything but child-protection
answers; the provider the basics, its own lane's answers and what the commissioner shares; the family the basics,
their own answers and what is shared with families; never the raw process data of others."""
from sqlalchemy import update

from apflow.services import documents, instances
from apflow.store.models import Instance


def _placement(life):
    iid = life.active_placement()
    return iid, instances.get_instance(life.core, life.people["coordinator"], iid)


def test_R81_the_school_reads_all_process_data(provider_ready):
    life = provider_ready
    iid, whole = _placement(life)
    assert whole["audience"] == "school"
    assert {"reason_details", "safeguarding", "signed_name", "improvement_objectives", "parent_username"} <= set(whole["data"])


def test_R81_a_parent_reads_their_own_answers_and_what_is_shared_with_families_only(provider_ready):
    life = provider_ready
    iid, whole = _placement(life)
    seen = instances.get_instance(life.core, life.people["parent"], iid)
    keys = set(seen["data"])
    assert seen["audience"] == "family"
    assert {"consent", "signed_name"} <= keys                     # their own task's answers
    assert {"improvement_objectives", "sessions", "start_date"} <= keys  # the plan, the timetable, the start (shared)
    assert not keys & {"reason_details", "safeguarding", "needs", "parent_username", "po_number", "la_officer_username"}
    assert keys < set(whole["data"])


def test_R81_the_provider_reads_what_the_commissioner_shares_and_its_own_lane(provider_ready):
    life = provider_ready
    iid, _ = _placement(life)
    keys = set(instances.get_instance(life.core, life.people["provider"], iid)["data"])
    assert {"reason_details", "date_of_birth", "needs", "improvement_objectives", "po_number"} <= keys  # shared with providers
    assert {"tutor_name", "key_adults"} <= keys                                                        # their own tasks
    assert not keys & {"safeguarding", "signed_name", "consent_comments", "parent_username", "head_notes"}


def test_R81_the_family_reads_the_timeline_of_their_own_tasks_only(provider_ready):
    life = provider_ready
    iid, _ = _placement(life)
    events = instances.list_events(life.core, life.people["parent"], iid)
    named = {e["task_name"] for e in events if e["task_name"]}
    assert named == {"Give written consent"}
    assert all(e["detail"] == {} for e in events)
    assert len(instances.list_events(life.core, life.people["coordinator"], iid)) > len(events)


def test_R81_errors_and_other_peoples_documents_are_not_shown_to_the_family(provider_ready):
    life = provider_ready
    iid, _ = _placement(life)
    documents.upload(life.core, life.people["coordinator"], iid, None, "minutes.pdf", "application/pdf", b"%PDF-1.4 notes")
    with life.core.db.session() as s:
        s.execute(update(Instance).where(Instance.id == iid).values(error_message="script failed on 'needs'", error_at=life.clock.now()))
    assert instances.get_instance(life.core, life.people["parent"], iid)["error"] is None
    assert instances.get_instance(life.core, life.people["coordinator"], iid)["error"]["message"].startswith("script failed")
    assert [d["filename"] for d in instances.instance_overview(life.core, life.people["parent"], iid)["documents"]] == []
    assert "minutes.pdf" in [d["filename"] for d in instances.instance_overview(life.core, life.people["coordinator"], iid)["documents"]]
