"""The JSON Schemas of docs/schemas/: a document is checked against its command's schema
(and the schema must be closed), a run's output is parsed and checked in one step."""

from __future__ import annotations

import json
from functools import cache
from typing import Any

from jsonschema import Draft202012Validator

from conftest import EXIT_OK, ROOT, CliResult

SCHEMA_DIR = ROOT / "docs" / "schemas"


@cache
def validator(schema: str) -> Draft202012Validator:
    path = SCHEMA_DIR / f"{schema}.schema.json"
    assert path.is_file(), f"no schema {path}"
    return Draft202012Validator(json.loads(path.read_text()), format_checker=Draft202012Validator.FORMAT_CHECKER)


def violations(schema: str, doc: Any) -> list[str]:
    return [f"{'/'.join(map(str, e.absolute_path)) or '(top)'}: {e.message}"
            for e in validator(schema).iter_errors(doc)]


def assert_valid(schema: str, doc: Any, what: str = "") -> Any:
    """doc validates against docs/schemas/<schema>.schema.json, and the same
    document with an unknown top-level field does not (the schema is closed)."""
    problems = violations(schema, doc)
    assert not problems, (f"{what or schema} output does not match docs/schemas/{schema}.schema.json:\n  "
                          + "\n  ".join(problems) + f"\n{json.dumps(doc)[:3000]}")
    extended = dict(doc, unexpected_field=True)
    assert violations(schema, extended), f"docs/schemas/{schema}.schema.json accepts an unknown top-level field"
    return doc


def json_output(r: CliResult, schema: str, rc: int = EXIT_OK) -> dict:
    """The run exited rc, printed one JSON document on stdout, and it matches schema."""
    assert r.rc == rc, f"expected exit {rc}, got {r.describe()}"
    command = " ".join(a for a in r.args[:2] if not a.startswith("-"))
    return assert_valid(schema, r.json(), command)
