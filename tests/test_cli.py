"""The `irmer` command line, end to end: golden files of its output, input shapes,
criteria selection, exit codes and the JSON Schemas it prints.

Goldens live in tests/golden/cli/. Every command runs in-process through the
`cli` fixture, from the repository root, so paths in messages are relative
and stable. No output may ever contain a Python traceback.
"""

from __future__ import annotations

import json
import re
import shutil

import pytest
from jsonschema import Draft202012Validator

from conftest import ROOT, check_golden

DATA = "tests/data"
EXAMPLES = "examples/incidents.json"
EXAMPLE_IDS = ["CT-0193", "NM-0021", "RT-0310", "IR-0007", "XR-0448", "NMT-0003", "CT-0207"]


@pytest.fixture
def irmer(cli, monkeypatch):
    """Run `irmer ...` from the repository root; fail on any traceback."""
    monkeypatch.chdir(ROOT)

    def run(*args: str, input: str | None = None):
        result = cli(*args, input=input)
        assert "Traceback" not in result.stdout, result.stdout
        assert "Traceback" not in result.stderr, result.stderr
        return result
    return run


def json_out(result):
    return json.loads(result.stdout)


def json_lines(result):
    return [json.loads(line) for line in result.stdout.splitlines()]


# ------------------------------------------------------------------ evaluate

def test_evaluate_text_golden(irmer):
    result = irmer("evaluate", "--format", "text", EXAMPLES)
    assert result.exit_code == 0, result.stderr
    assert result.stderr == ""
    check_golden("cli/evaluate-examples.txt", result.stdout)


def test_evaluate_json_golden_is_deterministic(irmer):
    first = irmer("evaluate", "--format", "json", EXAMPLES)
    second = irmer("evaluate", "--format", "json", EXAMPLES)
    assert first.exit_code == 0, first.stderr
    assert first.stdout == second.stdout
    results = json_out(first)
    assert [r["id"] for r in results] == EXAMPLE_IDS
    check_golden("cli/evaluate-examples.json", first.stdout)


def test_evaluate_json_is_the_default_off_a_terminal(irmer):
    explicit = irmer("evaluate", "--format", "json", EXAMPLES)
    default = irmer("evaluate", EXAMPLES)
    assert default.exit_code == 0
    assert default.stdout == explicit.stdout


def test_explain_one_incident_golden(irmer):
    result = irmer("explain", f"{DATA}/incident.json")
    assert result.exit_code == 0, result.stderr
    assert result.stderr == ""
    # explain lists every criterion, including those out of scope
    assert "out of scope" in result.stdout
    assert "irmer explain shows every criterion" not in result.stdout
    check_golden("cli/explain-incident.txt", result.stdout)


def test_explain_equals_evaluate_explain(irmer):
    explain = irmer("explain", f"{DATA}/incident.json")
    evaluate = irmer("evaluate", "--explain", "--format", "text", f"{DATA}/incident.json")
    assert explain.stdout == evaluate.stdout


# ------------------------------------------------------- choosing the criteria

def test_criteria_2023_golden(irmer):
    result = irmer("evaluate", "--criteria", "2023", "--format", "text", EXAMPLES)
    assert result.exit_code == 0, result.stderr
    check_golden("cli/evaluate-criteria-2023.txt", result.stdout)
    results = json_out(irmer("evaluate", "--criteria", "2023", "--format", "json", EXAMPLES))
    assert {r["criteria"] for r in results} == {"irmer-2023-04-19"}
    # 2023 code 3 needs a tissue reaction other than a transient erythema (docs/interpretations.md)
    ir = next(r for r in results if r["id"] == "IR-0007")
    assert ir["notifiable"] is not True and ir["codes"] == []


def test_criteria_version_id_golden(irmer):
    result = irmer("evaluate", "--criteria", "irmer-2024-08-28", "--format", "text", EXAMPLES)
    assert result.exit_code == 0, result.stderr
    check_golden("cli/evaluate-criteria-irmer-2024-08-28.txt", result.stdout)
    results = json_out(irmer("evaluate", "--criteria", "irmer-2024-08-28", "--format", "json", EXAMPLES))
    assert {r["criteria"] for r in results} == {"irmer-2024-08-28"}
    ir = next(r for r in results if r["id"] == "IR-0007")
    assert ir["notifiable"] is True and ir["codes"] == ["3"]
    # RT-0310 was discovered in 2023: forced onto the 2024 criteria, it is still 4.2b
    rt = next(r for r in results if r["id"] == "RT-0310")
    assert rt["codes"] == ["4.2b"]


def test_criteria_file_path(irmer, tmp_path):
    for name in ("irmer-2023-04-19.irmer", "incident-vocabulary.irmer"):
        shutil.copy(ROOT / "criteria" / name, tmp_path / name)
    by_path = irmer("evaluate", "--criteria", str(tmp_path / "irmer-2023-04-19.irmer"), "--format", "json",
                    EXAMPLES)
    by_year = irmer("evaluate", "--criteria", "2023", "--format", "json", EXAMPLES)
    assert by_path.exit_code == 0, by_path.stderr
    assert by_path.stdout == by_year.stdout
    relative = irmer("evaluate", "--criteria", "criteria/irmer-2023-04-19.irmer", "--format", "json", EXAMPLES)
    assert relative.stdout == by_year.stdout


def test_unknown_criteria(irmer):
    result = irmer("evaluate", "--criteria", "2022", EXAMPLES)
    assert result.exit_code == 2
    assert result.stdout == ""
    check_golden("cli/unknown-criteria.txt", result.stderr)


def test_default_criteria_by_discovered_on(irmer):
    result = irmer("evaluate", "--format", "json", f"{DATA}/discovered-on.json")
    assert result.exit_code == 0, result.stderr
    by_id = {r["id"]: r for r in json_out(result)}
    assert by_id["D-2023"]["criteria"] == "irmer-2023-04-19"
    assert by_id["D-2024"]["criteria"] == "irmer-2024-08-28"
    assert by_id["D-NONE"]["criteria"] == "irmer-2024-08-28"  # the latest
    assert by_id["D-2022"]["criteria"] == "irmer-2023-04-19"  # the earliest, with a note
    assert any("before the earliest version" in note and "irmer-2023-04-19" in note
               for note in by_id["D-2022"]["notes"])
    for ident in ("D-2023", "D-2024", "D-NONE"):
        assert not any("earliest" in note for note in by_id[ident]["notes"])
    # the criteria decide: transient erythema is code 3 only in 2024
    assert by_id["D-2023"]["codes"] == [] and by_id["D-2022"]["codes"] == []
    assert by_id["D-2024"]["codes"] == ["3"] and by_id["D-NONE"]["codes"] == ["3"]
    text = irmer("evaluate", "--format", "text", f"{DATA}/discovered-on.json")
    check_golden("cli/discovered-on.txt", text.stdout)


# ---------------------------------------------------------------- input shapes

def test_one_object_gives_one_object(irmer):
    result = irmer("evaluate", "--format", "json", f"{DATA}/incident.json")
    assert result.exit_code == 0
    document = json_out(result)
    assert isinstance(document, dict)
    assert document["id"] == "IR-0007" and document["codes"] == ["3"]


def test_array_gives_array_in_input_order(irmer):
    result = irmer("evaluate", "--format", "json", EXAMPLES)
    document = json_out(result)
    assert isinstance(document, list)
    assert [r["id"] for r in document] == EXAMPLE_IDS
    reversed_input = json.dumps(list(reversed(json.loads((ROOT / EXAMPLES).read_text()))))
    backwards = json_out(irmer("evaluate", "--format", "json", "-", input=reversed_input))
    assert [r["id"] for r in backwards] == list(reversed(EXAMPLE_IDS))
    assert backwards == list(reversed(document))


def test_one_element_array_gives_array(irmer):
    result = irmer("evaluate", "--format", "json", "-", input='[{"id": "only", "jurisdiction": "Wales"}]')
    document = json_out(result)
    assert isinstance(document, list) and [r["id"] for r in document] == ["only"]


def test_json_lines_give_json_lines(irmer):
    result = irmer("evaluate", "--format", "json", f"{DATA}/incidents.jsonl")
    assert result.exit_code == 0, result.stderr
    lines = result.stdout.splitlines()
    assert len(lines) == 3
    results = json_lines(result)
    assert [r["id"] for r in results] == ["L1", "L2", "L3"]
    assert [r["codes"] for r in results] == [["1"], [], ["7"]]
    check_golden("cli/incidents-jsonl.json", result.stdout)


def test_stdin(irmer):
    text = (ROOT / DATA / "incidents.jsonl").read_text()
    from_file = irmer("evaluate", "--format", "json", f"{DATA}/incidents.jsonl")
    dash = irmer("evaluate", "--format", "json", "-", input=text)
    implicit = irmer("evaluate", "--format", "json", input=text)
    assert dash.exit_code == 0
    assert dash.stdout == from_file.stdout == implicit.stdout
    array = (ROOT / EXAMPLES).read_text()
    assert irmer("evaluate", "--format", "json", "-", input=array).stdout == \
        irmer("evaluate", "--format", "json", EXAMPLES).stdout


def test_mixed_batch_one_invalid(irmer):
    result = irmer("evaluate", "--format", "json", f"{DATA}/mixed-batch.json")
    assert result.exit_code == 1
    assert result.stderr == ""
    ok1, bad, ok3 = json_out(result)
    assert bad["id"] == "BAD-2"
    assert bad["error"]["field"] == "total_dose"
    assert "absorbed dose" in bad["error"]["message"]
    assert set(bad["error"]) >= {"field", "message"}
    assert bad["errors"] and bad["errors"][0] == bad["error"]
    assert bad["notifiable"] is None and bad["codes"] == [] and "explanation" not in bad
    for good, codes in ((ok1, ["1"]), (ok3, ["7"])):
        assert good["error"] is None and good["errors"] == []
        assert good["notifiable"] is True and good["codes"] == codes
    check_golden("cli/mixed-batch.json", result.stdout)
    text = irmer("evaluate", "--format", "text", f"{DATA}/mixed-batch.json")
    assert text.exit_code == 1
    check_golden("cli/mixed-batch.txt", text.stdout)


def test_json_lines_with_one_malformed_line(irmer):
    result = irmer("evaluate", "--format", "json", f"{DATA}/bad-line.jsonl")
    assert result.exit_code == 1
    assert result.stderr == ""
    first, second, third = json_lines(result)
    assert first["id"] == "L1" and first["codes"] == ["1"] and first["error"] is None
    assert third["id"] == "L3" and third["codes"] == ["7"] and third["error"] is None
    assert second["error"]["field"] == "line 2"
    assert second["error"]["field"] == "line 2"
    assert "not valid JSON at column" in second["error"]["message"]
    assert "not valid JSON" in second["error"]["message"]
    check_golden("cli/bad-line-jsonl.json", result.stdout)


def test_non_object_item_in_array(irmer):
    result = irmer("evaluate", "--format", "json", "-", input='[42, {"id": "ok", "jurisdiction": "Wales"}]')
    assert result.exit_code == 1
    bad, good = json_out(result)
    assert bad["error"] == {"field": "incident", "message": "an incident is a JSON object, not a number", "hint": None}
    assert good["id"] == "ok" and good["error"] is None


def test_unparseable_input(irmer):
    """An array is streamed: the elements before the broken one are answered, the output stays a valid
    array, and the error says where the array breaks (exit 2: the rest of the input cannot be read)."""
    result = irmer("evaluate", "--format", "json", f"{DATA}/not-json.json")
    assert result.exit_code == 2
    assert [r["id"] for r in json.loads(result.stdout)] == ["a"]
    assert result.stderr.startswith(f"{DATA}/not-json.json:3:31: not valid JSON")
    check_golden("cli/not-json.txt", result.stderr)


def test_unparseable_stdin(irmer):
    result = irmer("evaluate", "--format", "json", "-", input='{"id": }')
    assert result.exit_code == 2
    assert result.stdout == ""
    assert result.stderr == "<stdin>:1:8: not valid JSON: Expecting value\n"


def test_unparseable_multiline_object(irmer):
    # A pretty-printed object with an error is one broken document, not broken JSON Lines.
    result = irmer("evaluate", "--format", "json", f"{DATA}/broken-object.json")
    assert result.exit_code == 2
    assert result.stderr.startswith(f"{DATA}/broken-object.json:4:19: not valid JSON")


def test_missing_file(irmer):
    result = irmer("evaluate", "--format", "json", "no-such-incidents.json")
    assert result.exit_code == 2
    assert result.stdout == ""
    assert result.stderr == "no such file: no-such-incidents.json\n"


def test_empty_input(irmer):
    result = irmer("evaluate", "--format", "json", "-", input="  \n")
    assert result.exit_code == 2
    assert result.stderr == "<stdin>: no incidents: the input is empty\n"


# ------------------------------------------------------------------- schemas

def incident_validator(irmer):
    result = irmer("schema")
    assert result.exit_code == 0
    schema = json_out(result)
    Draft202012Validator.check_schema(schema)
    return Draft202012Validator(schema, format_checker=Draft202012Validator.FORMAT_CHECKER)


def test_incident_schema_validates_examples(irmer):
    validator = incident_validator(irmer)
    for incident in json.loads((ROOT / EXAMPLES).read_text()):
        assert list(validator.iter_errors(incident)) == [], incident["id"]
    for path in ("incident.json", "mixed-batch.json", "discovered-on.json"):
        document = json.loads((ROOT / DATA / path).read_text())
        for incident in document if isinstance(document, list) else [document]:
            if incident["id"] == "BAD-2":
                continue
            assert validator.is_valid(incident), incident["id"]


def test_incident_schema_rejects_unknown_field(irmer):
    validator = incident_validator(irmer)
    errors = list(validator.iter_errors({"jurisdiction": "England", "dose": "8 mSv"}))
    assert len(errors) == 1
    assert errors[0].validator == "additionalProperties"
    assert "dose" in errors[0].message
    assert not validator.is_valid({"modality": "CT"})


def test_result_schema_validates_results(irmer):
    result = irmer("schema", "--result")
    assert result.exit_code == 0
    schema = json_out(result)
    Draft202012Validator.check_schema(schema)
    validator = Draft202012Validator(schema)
    produced = (json_out(irmer("evaluate", "--format", "json", EXAMPLES))
                + json_out(irmer("evaluate", "--format", "json", f"{DATA}/mixed-batch.json"))
                + json_lines(irmer("evaluate", "--format", "json", f"{DATA}/bad-line.jsonl"))
                + json_out(irmer("evaluate", "--format", "json", f"{DATA}/discovered-on.json")))
    assert any(r["error"] for r in produced) and any(r["notifiable"] is None and not r["error"] for r in produced)
    for item in produced:
        assert list(validator.iter_errors(item)) == [], item["id"]


@pytest.mark.parametrize("criteria", ["irmer-2024-08-28.irmer", "irmer-2023-04-19.irmer"])
def test_compile_validates_against_its_schema(irmer, criteria):
    schema_result = irmer("compile", "--schema")
    assert schema_result.exit_code == 0
    schema = json_out(schema_result)
    Draft202012Validator.check_schema(schema)
    compiled = irmer("compile", f"criteria/{criteria}")
    assert compiled.exit_code == 0, compiled.stderr
    document = json_out(compiled)
    assert list(Draft202012Validator(schema).iter_errors(document)) == []
    assert document["header"]["version"] == criteria.removesuffix(".irmer")


def test_compile_without_file(irmer):
    result = irmer("compile")
    assert result.exit_code == 2
    assert "give a criteria FILE (or --schema)" in result.stderr


# ------------------------------------------------------ check, test, versions

def count(file: str, keyword: str) -> int:
    """How many lines of a shipped criteria file start with keyword (the files grow; the tests follow)."""
    text = (ROOT / "criteria" / file).read_text(encoding="utf-8")
    return len(re.findall(rf"^{keyword} ", text, flags=re.MULTILINE))


def test_check_shipped_files(irmer):
    result = irmer("check")
    assert result.exit_code == 0, result.stderr
    lines = result.stdout.splitlines()
    assert len(lines) == 2
    assert all(line.startswith("ok ") for line in lines)
    for line, version in zip(lines, ("irmer-2023-04-19", "irmer-2024-08-28")):
        examples = count(f"{version}.irmer", "example")
        assert line.endswith(f"{version}.irmer: {version}, 20 rows, 4 complementary codes, {examples} examples")


def test_check_named_files(irmer):
    result = irmer("check", "criteria/irmer-2024-08-28.irmer", "criteria/incident-vocabulary.irmer")
    assert result.exit_code == 0, result.stderr
    examples = count("irmer-2024-08-28.irmer", "example")
    facts = count("incident-vocabulary.irmer", "fact")
    assert result.stdout == (f"ok criteria/irmer-2024-08-28.irmer: irmer-2024-08-28, 20 rows, 4 complementary codes, "
                             f"{examples} examples\nok criteria/incident-vocabulary.irmer: vocabulary, {facts} facts\n")


def test_test_shipped_examples(irmer):
    result = irmer("test")
    assert result.exit_code == 0, result.stdout + result.stderr
    n2023, n2024 = count("irmer-2023-04-19.irmer", "example"), count("irmer-2024-08-28.irmer", "example")
    assert n2023 >= 31 and n2024 >= 50
    assert f"{n2023}/{n2023} examples pass in criteria/irmer-2023-04-19.irmer (irmer-2023-04-19)" in result.stdout
    assert f"{n2024}/{n2024} examples pass in criteria/irmer-2024-08-28.irmer (irmer-2024-08-28)" in result.stdout
    assert re.fullmatch(r"(\d+/\d+ examples pass in \S+ \(irmer-\d{4}-\d\d-\d\d\)\n){2}", result.stdout)
    assert "FAIL" not in result.stdout
    verbose = irmer("test", "--verbose")
    assert verbose.exit_code == 0
    passes = [line for line in verbose.stdout.splitlines() if line.startswith("pass ")]
    assert len(passes) == n2023 + n2024


def test_versions(irmer):
    result = irmer("versions")
    assert result.exit_code == 0
    check_golden("cli/versions.txt", result.stdout)
    lines = result.stdout.splitlines()
    assert [line.split()[0] for line in lines] == ["irmer-2023-04-19", "irmer-2024-08-28"]


def test_help_and_version(irmer):
    assert irmer("--help").exit_code == 0
    version = irmer("--version")
    assert version.exit_code == 0 and version.stdout.startswith("irmer, version ")


def test_check_prints_warnings_and_passes(irmer, tmp_path):
    # A file without an authority for Northern Ireland is valid, with a warning.
    source = (ROOT / "criteria" / "irmer-2024-08-28.irmer").read_text(encoding="utf-8")
    start = source.index('authority "Northern Ireland"')
    end = source.index("# ----", start)
    draft = tmp_path / "draft.irmer"
    draft.write_text(source[:start] + source[end:], encoding="utf-8")
    (tmp_path / "incident-vocabulary.irmer").write_text(
        (ROOT / "criteria" / "incident-vocabulary.irmer").read_text(encoding="utf-8"), encoding="utf-8")
    result = irmer("check", str(draft))
    assert result.exit_code == 0, result.stderr
    assert "warning: no enforcing authority is given for Northern Ireland" in result.stderr
    assert "Traceback" not in result.stderr
