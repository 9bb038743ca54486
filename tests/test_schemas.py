"""The published JSON Schemas (docs/schemas/) are the ones the code generates.

After a deliberate change to the AST, the result or the vocabulary, run
`UPDATE_GOLDEN=1 python -m pytest tests/test_schemas.py` and review the diff.
"""

from __future__ import annotations

import json
import os

import jsonschema
import pytest

from evaluator import load_vocabulary

from conftest import ROOT, cli  # noqa: F401

SCHEMAS = ROOT / "docs" / "schemas"


def generated() -> dict[str, dict]:
    return {
        "incident.schema.json": load_vocabulary().schema(),
        "result.schema.json": json.loads(_cli_output("schema", "--result")),
        "criteria-ast.schema.json": json.loads(_cli_output("compile", "--schema")),
        "diff.schema.json": _diff_schema(),
    }


def _diff_schema() -> dict:
    from evaluator.tools.diff import DiffReport
    return {"$schema": "https://json-schema.org/draft/2020-12/schema",
            "$id": "https://irmer.example/schemas/diff.schema.json", **DiffReport.model_json_schema()}


def _cli_output(*args: str) -> str:
    from click.testing import CliRunner
    from evaluator.cli import main
    result = CliRunner().invoke(main, list(args), catch_exceptions=False)
    assert result.exit_code == 0
    return result.stdout


@pytest.mark.parametrize("name", ["incident.schema.json", "result.schema.json", "criteria-ast.schema.json",
                                  "diff.schema.json"])
def test_published_schema_is_current(name):
    schema = generated()[name]
    jsonschema.Draft202012Validator.check_schema(schema)
    text = json.dumps(schema, indent=2, ensure_ascii=False) + "\n"
    path = SCHEMAS / name
    if os.environ.get("UPDATE_GOLDEN"):
        SCHEMAS.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    assert path.read_text(encoding="utf-8") == text, f"{path} is out of date (UPDATE_GOLDEN=1 to regenerate)"


def test_incident_schema_accepts_the_examples_and_refuses_unknown_fields():
    schema = load_vocabulary().schema()
    incidents = json.loads((ROOT / "examples" / "incidents.json").read_text(encoding="utf-8"))
    for incident in incidents:
        jsonschema.validate(incident, schema)
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate({"dose": "3 mSv"}, schema)
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate({"total_dose": "3 furlongs"}, schema)
