"""Lesson plans and materials shared in advance (R63): the provider shares one with a file or a link and the
confidentiality agreed, the school checks it is accurate, age and stage appropriate and unbiased (or sends it back with
a reason), and only then can the pupil's parents see and download it; nobody else learns it exists."""
import pytest
from sqlalchemy import func, select

from apflow.errors import Forbidden, Invalid, NotFound
from apflow.placements import lessons as rules
from apflow.placements.models import LessonMaterial
from apflow.services import lessons
from apflow.store.models import Document, Notification
from tests.scenarios.lessons_world import build
from tests.support import browser, post

PDF = b"%PDF-1.4 fractions worksheet"


@pytest.fixture
def world(core, terms, lifecycle_deployed, frozen_clock):
    return build(core, frozen_clock)


def _share(client, iid, **changes):
    data = {"kind": "plan", "title": "Fractions with engine parts", "for_date": "2026-01-14", "description": "Worksheet and plan.",
            "confidentiality_agreed": "true", **changes}
    return client.post(f"/placements/{iid}/lessons/materials", data={"csrf_token": client.csrf, **data,
                                                                      "file": (__import__("io").BytesIO(PDF), "fractions.pdf", "application/pdf")},
                       content_type="multipart/form-data")


def test_R63_the_provider_shares_a_plan_the_school_checks_it_and_then_the_parent_downloads_it(app, core, world):
    life, people, iid, pid = world
    tutor, coord, parent = browser(app, "tutor"), browser(app, "coord"), browser(app, "parent1")
    assert _share(tutor, iid).status_code == 302
    [material] = lessons.list_materials(core, people["coord"], pid)["materials"]
    assert material["status"] == "awaiting_check" and material["confidentiality_agreed"] and material["filename"] == "fractions.pdf"
    with core.db.session(readonly=True) as s:
        assert [n.user_id for n in s.scalars(select(Notification).where(Notification.kind == "lesson_material_to_check"))] == [people["coord"].id]
    # not checked yet: the parent neither sees it nor downloads it
    assert parent.get(f"/api/v1/placements/{pid}/lesson-materials").get_json()["materials"] == []
    assert parent.get(material["document_url"]).status_code == 404
    assert "Fractions with engine parts" not in parent.get(f"/placements/{iid}/lessons").get_data(as_text=True)
    # the school must tick all three checks
    half = post(coord, f"/lessons/materials/{material['id']}/check", {"instance_id": iid, "decision": "checked", "accurate": "true"})
    assert half.status_code == 422 and "Tick this once you have checked it." in half.get_data(as_text=True)
    done = post(coord, f"/lessons/materials/{material['id']}/check", {"instance_id": iid, "decision": "checked", "accurate": "true",
                                                                      "age_appropriate": "true", "unbiased": "true"})
    assert done.status_code == 302
    [checked] = lessons.list_materials(core, people["tutor"], pid)["materials"]
    assert checked["status"] == "checked" and checked["checked_by"] == "Coord" and checked["checked_at"]
    # the parent now sees and downloads it
    [seen] = parent.get(f"/api/v1/placements/{pid}/lesson-materials").get_json()["materials"]
    assert seen["title"] == "Fractions with engine parts" and seen["document_url"] == f"/lessons/materials/{material['id']}/file"
    download = parent.get(seen["document_url"])
    assert download.status_code == 200 and download.data == PDF and "fractions.pdf" in download.headers["Content-Disposition"]
    with core.db.session(readonly=True) as s:
        assert rules.family_materials(s, pid) == [{"id": material["id"], "title": "Fractions with engine parts", "kind": "Lesson plan",
                                                    "for_date": "2026-01-14", "whole_week": False, "description": "Worksheet and plan.",
                                                    "link": None, "document_url": seen["document_url"]}]
    # a decision taken stands: checking it again changes nothing
    assert lessons.decide_material(core, people["coord"], material["id"], "checked", True, True, True)["status"] == "checked"


def test_R63_others_get_404_and_only_the_provider_shares_and_only_the_school_checks(app, core, world):
    life, people, iid, pid = world
    shared = lessons.share_material(core, people["tutor"], pid, "material", "Engine diagram", "2026-01-13", False, "", "https://example.org/engine",
                                    True)
    lessons.decide_material(core, people["coord"], shared["id"], "checked", True, True, True)
    for who in ("othercoord", "farmer", "parent2"):
        client = browser(app, who)
        assert client.get(f"/api/v1/placements/{pid}/lesson-materials").status_code == 404, who
        assert "Engine diagram" not in client.get(f"/placements/{iid}/lessons").get_data(as_text=True)
        with pytest.raises(NotFound):
            lessons.decide_material(core, people[who], shared["id"], "sent_back", reason="Not ours to judge.")
    with pytest.raises(Forbidden):
        lessons.share_material(core, people["coord"], pid, "plan", "School's own plan", "2026-01-13", False, "", "https://example.org/x", True)
    second = lessons.share_material(core, people["tutor"], pid, "plan", "Gears", "2026-01-13", True, "", "https://example.org/gears", True)
    with pytest.raises(Forbidden):
        lessons.decide_material(core, people["tutor"], second["id"], "checked", True, True, True)
    with pytest.raises(NotFound):  # a file-less material has nothing to download
        lessons.material_file(core, people["parent1"], shared["id"])


def test_R63_the_school_sends_a_material_back_with_a_reason_the_provider_reads(app, core, world):
    life, people, iid, pid = world
    shared = lessons.share_material(core, people["tutor"], pid, "material", "Cars through history", "2026-01-15", False,
                                    "Short video.", "https://example.org/cars", True)
    with pytest.raises(Invalid) as err:
        lessons.decide_material(core, people["coord"], shared["id"], "sent_back", reason="")
    assert "reason" in err.value.details["fields"]
    back = lessons.decide_material(core, people["senco"], shared["id"], "sent_back", reason="The video shows unsafe driving; choose another.")
    assert back["status"] == "sent_back" and back["checked_by"] == "Senco"
    page = browser(app, "tutor").get(f"/placements/{iid}/lessons").get_data(as_text=True)
    assert "The video shows unsafe driving; choose another." in page
    with core.db.session(readonly=True) as s:
        told = s.scalars(select(Notification).where(Notification.kind == "lesson_material_sent_back")).all()
        assert [n.user_id for n in told] == [people["tutor"].id]
    assert lessons.list_materials(core, people["parent1"], pid)["materials"] == []
    with pytest.raises(Invalid):  # decided: it cannot now be checked as well
        lessons.decide_material(core, people["coord"], shared["id"], "checked", True, True, True)


def test_R63_bad_input_is_named_per_field_and_nothing_is_stored(app, core, world):
    life, people, iid, pid = world
    with pytest.raises(Invalid) as err:
        lessons.share_material(core, people["tutor"], pid, "poster", "x", "2026-01-09", False, "", "ftp://x", False,
                               file=("virus.exe", "application/x-msdownload", b"MZ"))
    assert set(err.value.details["fields"]) == {"kind", "title", "for_date", "link", "file", "confidentiality_agreed"}
    page = _share(browser(app, "tutor"), iid, confidentiality_agreed="", title="Fractions again")
    assert page.status_code == 422 and "Confirm the confidentiality agreed with the school." in page.get_data(as_text=True)
    assert 'value="Fractions again"' in page.get_data(as_text=True)
    with core.db.session(readonly=True) as s:
        assert s.scalar(select(func.count()).select_from(LessonMaterial)) == 0
        assert s.scalar(select(func.count()).select_from(Document).where(Document.filename == "fractions.pdf")) == 0
