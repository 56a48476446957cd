"""Safeguarding cascades (R23, R73, R80): a provider found unsafe, suspended or withdrawn opens a review on every
running placement with it and takes no new starts; a review that finds the pupil not safe goes on only if the DSL says so."""
from apflow.services import placements as service
from apflow.services import safeguarding

INVITE = "Invite everyone to the review"
DSL_DECIDES = "Review found the pupil not safe: decide"


def _two_running(life):
    placements = []
    for ref in ("P-0001", "P-0002"):
        iid = life.active_placement(pupil_ref=ref, pupil_name=f"Pupil {ref}")
        life.to_running(iid)
        placements.append(iid)
    return placements


def test_R23_R80_an_unsafe_qa_visit_suspends_the_provider_reviews_every_running_placement_and_blocks_new_starts(life):
    approval = life.approve_provider()
    running = _two_running(life)
    life.do("Termly quality assurance visit", approval, safeguarding_ok=False, quality="requires_improvement", qa_outcome="keep")
    for iid in running:
        assert INVITE in life.names(iid), life.names(iid)
        history = service.placement_history(life.core, life.people["coordinator"], life.placement_id(iid))
        assert any("found the provider unsafe" in e["summary"] for e in history)
    [provider] = service.provider_register(life.core, life.people["coordinator"], include_all=True)
    assert provider["status"] == "suspended" and not provider["ready_for_placements"]
    iid = life.refer(pupil_ref="P-0003", pupil_name="Pupil three")
    life.do("Choose the provider", iid)
    assert life.names(iid) == ["Provider not ready: decide what to do"]  # no new start with a suspended provider


def test_R23_withdrawing_a_provider_reviews_every_running_placement(life):
    approval = life.approve_provider()
    running = _two_running(life)
    life.do("Termly quality assurance visit", approval, qa_outcome="withdraw", quality="inadequate")
    for iid in running:
        assert INVITE in life.names(iid)
    life.do("Withdraw the provider from the register", approval)
    assert service.provider_register(life.core, life.people["coordinator"]) == []


def test_R80_a_review_that_finds_the_pupil_not_safe_goes_on_only_if_the_dsl_decides_so(provider_ready):
    life = provider_ready
    iid = life.active_placement()
    life.to_running(iid)
    pid = life.placement_id(iid)
    service.request_review(life.core, life.people["parent"], pid, "He says he does not feel safe there.")
    life.do(INVITE, iid)
    life.do("Progress report for the review", iid)
    life.do("Hold the placement review", iid, safe=False, review_decision="continue")
    assert DSL_DECIDES in life.names(iid) and life.task(DSL_DECIDES, iid)["role"] == "dsl"
    life.do(DSL_DECIDES, iid, dsl_decision="end", dsl_reasons="Not safe on the farm site; planned exit with support.")
    assert "Give notice to all parties" in life.names(iid)
    [decided] = [r for r in service.get_placement(life.core, life.people["coordinator"], pid)["reviews"] if r["kind"] == "dsl_safety_decision"]
    assert decided["outcome"] == "end" and "dsl_reasons" not in decided["content"]
    assert "Not safe on the farm site" in str(safeguarding.cp_file(life.core, life.people["dsl"], "P-0001")["chronology"])
