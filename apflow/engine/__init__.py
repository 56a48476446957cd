"""The SpiffWorkflow host: parse diagrams safely, run workflows in a sandbox, serialize state.

Knows nothing of Flask or the database, so tests and tools can use it on its own.
"""
