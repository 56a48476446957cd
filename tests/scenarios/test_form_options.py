"""The provider is picked from the register, not typed (R22, issue 13)."""
from apflow.services import instances
from apflow.web import create_app
from tests.scenarios.conftest import seed_approved_provider
from tests.support import browser


def test_R22_the_provider_choice_offers_the_register_with_each_providers_standing(core, life):
    seed_approved_provider(core)
    seed_approved_provider(core, "Greenfield Farm")
    iid = life.refer()
    task = life.task("Choose the provider", iid)
    form = instances.get_task(core, life.people["coordinator"], task["id"])["form"]
    assert form["schema"]["properties"]["provider_name"]["enum"] == ["Bridges Learning", "Greenfield Farm"]
    assert form["ui_schema"]["provider_name"]["ui:enumNames"][0] == "Bridges Learning (approved, agreement signed)"
    page = browser(create_app(core=core, run_scheduler=False), "coord").get(f"/tasks/{task['id']}").get_data(as_text=True)
    assert 'value="Greenfield Farm"' in page
    life.do("Choose the provider", iid, provider_name="Greenfield Farm")
    assert "Draw up the personalised plan" in life.names(iid)
