"""Helpers the integration test files share (conftest.py holds the fixtures and the basic
cluster and CLI calls); a test file imports from here, never from another test file."""
