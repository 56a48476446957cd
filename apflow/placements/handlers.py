"""Registers every record handler the lifecycle diagrams name (apflow.services.records imports this module)."""
from . import attendance, concerns, exits, intake, planning, providers, reviews  # noqa: F401
