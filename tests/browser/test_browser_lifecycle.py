"""One pupil's whole placement through pages only (issue 13): the coordinator starts a referral from the browser,
adds the parent, who sets a password from the invitation and gives consent on a phone; every stage's tasks are done
by the people whose work they are (the tutor on a phone); a review ends the placement, the notice runs, the
destination is agreed, and the placement file at the end reads back what was recorded. Saves README screenshots.

The test only looks at the database to find the invitation e-mail, and to learn which task comes next and whose
it is (as a person learns it from their inbox); everything done is done by clicking and typing in Chromium."""
import json
import re
import shutil
from datetime import datetime, timezone

import pytest
from sqlalchemy import select

from apflow.config import ROOT
from apflow.store.models import OutboxEmail
from apflow.web.forms import _kind
from tests.browser.conftest import served
from tests.scenarios.conftest import _form_name, answers, seed_approved_provider
from tests.support import PASSWORD, SHOTS, sign_in

PHONE, DESKTOP = {"width": 390, "height": 844}, {"width": 1200, "height": 900}
STAFF = [("coord", "Priya Shah", "coordinator"), ("head", "Helen Ward", "headteacher"), ("senco", "Sam Okafor", "senco"),
         ("dsl", "Dee Lewis", "dsl"), ("tutor", "Aisha Begum", "provider"), ("la1", "Graham Hughes", "la_officer"),
         ("pupil1", "Amir H.", "pupil"), ("boss", "Morgan Price", "manager")]
ON_A_PHONE = {"tutor", "pupil1"}


@pytest.fixture
def world(tmp_path, sqlite_template, frozen_clock):
    from apflow.config import Settings
    from apflow.services import calendars, processes, users
    from apflow.services.core import Core

    target = tmp_path / "browser.sqlite3"
    shutil.copy(sqlite_template, target)
    core = Core(Settings.from_env({}, database_url=f"sqlite:///{target}", instance_dir=tmp_path, run_scheduler=False, secret_key="browser"))
    calendars.import_csv(core, calendars.DEMO_TERMS.read_text(), by="test")
    processes.deploy_paths(core, [ROOT / "bpmn"], by="test")
    seed_approved_provider(core)
    with core.db.session() as s:  # the installation's own school's staff; the tutor works for the provider, who delivers
        people = {username: users.add_user(s, username, PASSWORD, [role], display_name=shown,
                                           organisations=["Bridges Learning"] if role == "provider" else None)
                  for username, shown, role in STAFF}
    with served(core) as base:
        yield base, core, people, frozen_clock
    core.db.dispose()


class People:
    """One signed-in browser page per person (each page has its own cookies), at a phone's or a desk's width."""

    def __init__(self, chromium, base):
        self.chromium, self.base, self.pages = chromium, base, {}

    def page(self, username: str):
        if username not in self.pages:
            page = self.chromium.new_page(viewport=PHONE if username in ON_A_PHONE else DESKTOP)
            sign_in(page, self.base, username)
            self.pages[username] = page
        return self.pages[username]


def fill(page, schema: dict, ui: dict, values: dict, prefix: str = "") -> None:
    """Fill a rendered form as a person would, adding each row with the form's Add button before filling it in."""
    props = schema.get("properties", {})
    for key, value in values.items():
        if key not in props:
            continue
        prop, name = props[key], f"{prefix}{key}"
        kind = _kind(prop, ui.get(key, {}))
        if kind in ("group", "list"):
            counter = page.locator(f'input[name="{name}.count"]')
            for i, item in enumerate(value):
                if int(counter.input_value()) <= i:
                    page.get_by_role("button", name=f"Add {prop.get('title', key).lower()}", exact=True).click()
                    # Add posts the form and the page comes back with one more row; while the next page loads
                    # there is no counter at all, so the wait reads a missing counter as "not yet". The wait is a
                    # function, not an expression: Playwright evaluates an expression again on every poll with eval,
                    # which the page's Content-Security-Policy refuses; a function is evaluated once, on the first
                    # check, inside DevTools' own evaluation, which the policy lets through.
                    page.wait_for_function(
                        "([name, i]) => (document.querySelector(`input[name=\"${name}.count\"]`)?.value ?? 0) > i",
                        arg=[name, i])
                if kind == "group":
                    fill(page, prop["items"], ui.get(key, {}).get("items", {}), item, f"{name}.{i}.")
                else:
                    page.locator(f'[name="{name}.{i}"]').fill(str(item))
        elif kind != "file":
            choose(page, name, value)


def choose(page, name: str, value) -> None:
    """Give one field its value the way its input takes it (the page decides: a register may offer radios)."""
    inputs = page.locator(f'[name="{name}"]')
    kind = inputs.first.evaluate("e => e.type || e.tagName.toLowerCase()")
    if kind == "radio":
        page.locator(f'input[name="{name}"][value="{value}"]').check()
    elif kind == "checkbox" and isinstance(value, list):
        for box in inputs.all():
            box.set_checked(box.get_attribute("value") in value)
    elif kind == "checkbox":
        inputs.first.set_checked(bool(value))
    elif kind.startswith("select"):
        inputs.first.select_option(str(value))
    else:
        inputs.first.fill(str(value))


def form_files(core, task_id):
    name = _form_name(core, task_id)
    schema = json.loads((ROOT / "forms" / f"{name}.schema.json").read_text())
    ui_path = ROOT / "forms" / f"{name}.uischema.json"
    return name, schema, json.loads(ui_path.read_text()) if ui_path.exists() else {}


def test_R7_R40_R54_R110_the_whole_placement_through_pages_on_a_phone_and_a_desk(chromium, world):
    base, core, people, clock = world
    from apflow.services import instances

    browsers = People(chromium, base)
    by_role = {role: username for username, _, role in STAFF}

    # The coordinator starts a referral from the browser and records it.
    coord = browsers.page("coord")
    coord.get_by_role("button", name="New referral or other work").click()
    coord.get_by_role("button", name="New referral").click()
    coord.get_by_role("heading", name="Record the referral", level=1).wait_for()
    [iid] = [t["instance_id"] for t in instances.list_ready_tasks(core, people["boss"]) if t["name"] == "Record the referral"]

    def ready():
        return instances.list_ready_tasks(core, people["boss"], iid)

    def work(name: str, shot: str | None = None, **changes):
        [task] = [t for t in ready() if t["name"] == name] or [None]
        assert task, f"{name!r} is not ready; ready: {sorted(t['name'] for t in ready())}"
        who = task["assignee"] or by_role[task["role"]]
        page = browsers.page(who)
        page.goto(f"{base}/?tab={'mine' if task['assignee'] else 'available'}")
        page.get_by_role("link", name=name, exact=True).first.click()
        page.get_by_role("heading", name=name, level=1).wait_for()
        if page.get_by_role("button", name="Claim", exact=True).count():
            page.get_by_role("button", name="Claim", exact=True).click()
            page.get_by_text("You have claimed this task").wait_for()
        form, schema, ui = form_files(core, task["id"])
        values = {k: v for k, v in {**answers(form), **changes}.items() if v is not None}
        fill(page, schema, ui, values)
        if shot:
            page.screenshot(path=str(SHOTS / shot), full_page=True)
        page.get_by_role("button", name="Complete task").click()
        page.get_by_text(f"'{name}' is done").wait_for()
        return page

    SHOTS.mkdir(parents=True, exist_ok=True)
    work("Record the referral", "referral.png", pupil_name="Amir H.", pupil_ref="NEST-0301", parent_username=None,
         parent_name=None, parent_email=None, parent_phone=None, parent_relationship=None)

    # The pupil's page: the coordinator adds the mother and invites her to an account.
    coord.get_by_role("link", name="Caseload").click()
    coord.get_by_label("Pupil name or reference").fill("Amir")
    coord.get_by_role("button", name="Show placements").click()
    coord.get_by_role("link", name="Amir H.").click()
    coord.get_by_text("Add a parent or carer").click()
    family = coord.locator("form", has=coord.get_by_label("Relationship to the pupil"))
    family.get_by_label("Name", exact=True).fill("Farah H.")
    family.get_by_label("E-mail address").fill("farah@example.org")
    family.get_by_label("Relationship to the pupil").select_option("mother")
    family.get_by_label("Invite them to an account").check()
    family.get_by_role("button", name="Add", exact=True).click()
    added = coord.get_by_text("An invitation to set a password was e-mailed")
    added.wait_for()
    parent = re.search(r"their username is (\S+?)\.", added.text_content()).group(1)
    by_role["parent"] = parent
    coord.screenshot(path=str(SHOTS / "pupil.png"), full_page=True)

    # The mother sets her password from the link in her e-mail, on her phone.
    with core.db.session(readonly=True) as s:
        [mail] = s.scalars(select(OutboxEmail).where(OutboxEmail.to_address == "farah@example.org")).all()
    assert "Amir" not in mail.subject + mail.body  # no child's name in an e-mail
    link = re.search(r"/welcome/\S+", mail.body).group(0)
    mother = chromium.new_page(viewport=PHONE)
    mother.goto(base + link)
    mother.get_by_label("Password (at least 10 characters)").fill("a-long-passphrase")
    mother.get_by_label("Password again").fill("a-long-passphrase")
    mother.get_by_role("button", name="Set my password").click()
    mother.get_by_text("Your password is set").wait_for()
    mother.get_by_label("Username").fill(parent)
    mother.get_by_label("Password").fill("a-long-passphrase")
    mother.get_by_role("button", name="Sign in").click()
    mother.get_by_role("heading", name="Amir H.", level=1).wait_for()  # a parent lands on their child's page
    browsers.pages[parent] = mother

    # Planning, consent by the mother, approval by the head, commissioning by the LA and the provider.
    work("Choose the provider")
    work("Decide on the referral")  # R12: the provider's staff accept the referral against their admission criteria
    for name in ("Draw up the personalised plan", "Assess the placement risks", "Arrange transport and equipment",
                 "Consult the parents or carers"):
        work(name)
    work("Give written consent", "consent-phone.png")
    work("Approve the placement")
    for name in ("Issue the purchase order", "Allocate tutors and timetable the sessions", "Write the Relational Learning Plan",
                 "Share the timetable and portal access", "Send the Key Information Document",
                 "Sign and return the Key Information Document", "Confirm the placement start"):
        work(name)

    # The placement runs: commencement, passport, baseline, a register, and the review that ends it.
    work("Commencement review: agree targets")
    if any(t["name"] == "Complete the Pupil Passport and Education Plan" for t in ready()):
        work("Complete the Pupil Passport and Education Plan")
    work("Baseline assessment once settled")
    # The tutor keeps the day's register on the Today page (a record, not an inbox task), on a phone.
    clock.freeze(datetime(2026, 1, 12, 9, 45, tzinfo=timezone.utc))
    tutor = browsers.page("tutor")
    tutor.goto(base)
    tutor.get_by_role("link", name="Today").click()
    tutor.get_by_role("heading", name="Registers for Monday 12 January 2026").wait_for()
    tutor.get_by_label("Present", exact=True).first.check()
    tutor.screenshot(path=str(SHOTS / "register-phone.png"), full_page=True)
    tutor.get_by_role("button", name="Save the register").click()
    tutor.get_by_text("Saved 1 mark.").wait_for()
    work("Invite everyone to the review")
    work("Progress report for the review")
    work("Hold the placement review", review_decision="end")

    # Planned exit: notice under the agreement, lessons learned, the destination.
    work("Give notice to all parties")
    work("Plan the next provision and continuity of learning")
    clock.freeze(datetime(2026, 1, 26, 15, 31, tzinfo=timezone.utc))
    instances.fire_due_timers(core)
    work("Record lessons learned")
    work("Agree the destination and transition plan")

    # The placement file reads back what was recorded, in the forms' words, in order.
    coord.goto(f"{base}/placements/{iid}")
    coord.get_by_role("heading", name="The placement file").wait_for()
    coord.get_by_text("A return to full-time school by September.").first.wait_for()  # the referral's purpose
    text = coord.locator("main").inner_text()
    order = ["Record the referral", "Give written consent", "Approve the placement", "Hold the placement review",
             "Agree the destination and transition plan"]
    assert [text.index(n) for n in order] == sorted(text.index(n) for n in order)
    assert "Part-time alternative provision" in text
    coord.screenshot(path=str(SHOTS / "placement-file.png"), full_page=True)
    # On a phone nothing on the way scrolls sideways.
    assert browsers.page("tutor").evaluate("document.documentElement.scrollWidth") <= PHONE["width"] + 1
    assert mother.evaluate("document.documentElement.scrollWidth") <= PHONE["width"] + 1
