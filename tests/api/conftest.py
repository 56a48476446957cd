"""Fixtures for tests through the Flask test client."""
import pytest

from apflow.web import create_app


@pytest.fixture
def app(core):
    """The Flask app on the test database, with no scheduler thread."""
    return create_app(core=core, run_scheduler=False)
