"""apflow: a BPMN workflow engine for alternative provision placements."""

__version__ = "0.1.0"
