"""The inbox in a real browser (Debian's headless Chromium driven by Playwright).

Saves the screenshots the README shows into docs/screenshots/.
"""


from tests.support import PASSWORD, SHOTS, sign_in


def test_coordinator_claims_fixes_a_form_error_and_moves_the_placement_on(chromium, live):
    base, core = live
    page = chromium.new_page(viewport={"width": 1200, "height": 900})
    sign_in(page, base, "priya")
    page.get_by_role("heading", name="Inbox").wait_for()
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / "inbox.png"), full_page=True)

    page.get_by_role("link", name="Triage referral").first.click()
    page.get_by_role("button", name="Claim").click()
    page.get_by_text("You have claimed this task").wait_for()
    page.get_by_label("Accept for placement").check()
    page.get_by_label("Why").fill("short")
    page.get_by_role("button", name="Complete task").click()
    summary = page.get_by_role("alert")
    summary.get_by_text("There is a problem").wait_for()
    assert page.get_by_label("Why").input_value() == "short"  # kept on error
    assert page.get_by_label("Accept for placement").is_checked()
    page.screenshot(path=str(SHOTS / "task-form.png"), full_page=True)
    summary.get_by_role("link").first.click()  # the summary links to the field
    assert page.url.endswith("#f-rationale")

    page.get_by_label("Why").fill("Attendance has been below 50% since September; needs a fresh start.")
    page.get_by_role("button", name="Complete task").click()
    page.get_by_text("is done and the placement process has finished").wait_for()
    page.get_by_role("heading", name="The placement file").wait_for()  # the answer, in the form's words
    page.get_by_text("Attendance has been below 50% since September; needs a fresh start.").wait_for()
    page.screenshot(path=str(SHOTS / "placement.png"), full_page=True)
    page.close()


def test_manager_bulk_reassigns_tasks(chromium, live):
    base, core = live
    page = chromium.new_page(viewport={"width": 1200, "height": 900})
    sign_in(page, base, "sam")
    page.get_by_role("link", name="All tasks").click()
    boxes = page.get_by_role("checkbox", name="Select Triage referral")
    boxes.nth(0).check()
    boxes.nth(1).check()
    page.get_by_label("Action").select_option("assign")
    page.get_by_label("Colleague's username").fill("tom")
    page.get_by_role("button", name="Apply to ticked tasks").click()
    page.get_by_text("2 task(s) updated.").wait_for()
    assert page.get_by_role("cell", name="Tom Reilly").count() == 2
    page.close()


def test_pages_work_on_a_phone_sized_screen_with_the_keyboard(chromium, live):
    base, _ = live
    page = chromium.new_page(viewport={"width": 390, "height": 844})
    page.goto(f"{base}/login")
    page.keyboard.press("Tab")  # skip link first
    assert page.evaluate("document.activeElement.textContent").strip() == "Skip to main content"
    page.get_by_label("Username").fill("priya")
    page.get_by_label("Password").fill(PASSWORD)
    page.keyboard.press("Enter")
    page.get_by_role("heading", name="Inbox").wait_for()
    page.screenshot(path=str(SHOTS / "inbox-phone.png"), full_page=True)
    assert page.evaluate("document.documentElement.scrollWidth") <= 391  # no sideways scrolling of the page
    page.close()
