"""Tests in this folder never touch a database: asking for one is an error, so the folder stays fast
(`pytest tests/unit tests/engine` runs in seconds on any machine)."""
import pytest


@pytest.fixture
def database_url():
    pytest.fail("tests in this folder never touch a database; put the test in tests/integration instead")


@pytest.fixture
def postgres_url():
    pytest.fail("tests in this folder never touch a database; put the test in tests/integration instead")
