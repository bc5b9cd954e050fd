"""Local mode's Step Functions interpreter parses a definition once (localmode/compat.py), not at
every execution, and still gives each execution components of its own."""

from __future__ import annotations

from typing import Any

import jsonpath_ng.ext.parser
import pytest
from moto.stepfunctions.parser.asl.parse import asl_parser
from moto.stepfunctions.parser.asl.utils import json_path

from localmode import compat
from localmode.emulator import ServiceResources, workflow_definition


class _Worker:
    """What the entry point reads of an execution worker: its state machine's definition."""

    def __init__(self, definition: str) -> None:
        details: Any = type("Details", (), {})()
        details.state_machine_details = type("Machine", (), {"definition": definition})()
        self._evaluation_details = details


def _entrypoint(definition: str) -> Any:
    return compat._evaluation_entrypoint(_Worker(definition))  # type: ignore[arg-type]


def test_executions_of_one_definition_parse_it_once(monkeypatch: pytest.MonkeyPatch) -> None:
    parses: list[str] = []
    parse = asl_parser.AmazonStateLanguageParser.parse

    def counting(definition: str) -> Any:
        parses.append(definition)
        return parse(definition)

    monkeypatch.setattr(asl_parser.AmazonStateLanguageParser, "parse", staticmethod(counting))
    compat.parse_tree.cache_clear()
    definition = workflow_definition(ServiceResources())
    first, second = _entrypoint(definition), _entrypoint(definition)
    assert parses == [definition]
    # Components hold an execution's progress: never shared between two executions.
    assert first is not second
    assert type(first) is type(second)
    other = workflow_definition(ServiceResources(jobs_table="other-jobs"))
    _entrypoint(other)
    assert parses == [definition, other]


def test_a_definition_that_does_not_parse_is_refused_every_time() -> None:
    compat.parse_tree.cache_clear()
    for _ in range(2):
        with pytest.raises(asl_parser.ASLParserException):
            _entrypoint('{"StartAt": ')
    assert compat.parse_tree.cache_info().currsize == 0


def test_a_jsonpath_is_parsed_once_and_finds_the_same_values(monkeypatch: pytest.MonkeyPatch) -> None:
    parses: list[str] = []
    parse = jsonpath_ng.ext.parser.parse

    def counting(path: str) -> Any:
        parses.append(path)
        return parse(path)

    monkeypatch.setattr(compat, "parse_extended_jsonpath", counting)
    compat.extended_jsonpath.cache_clear()
    monkeypatch.setattr(json_path, "parse", compat.extended_jsonpath)
    job = {"action": "deploy", "builds": [{"id": "a", "ok": True}, {"id": "b", "ok": False}]}
    for _ in range(3):
        assert json_path.extract_json("$.action", job) == "deploy"
        assert json_path.extract_json("$.builds[?(@.ok == true)].id", job) == ["a"]
        # the input is read, never kept: another input gets its own values
        assert json_path.extract_json("$.action", {"action": "destroy"}) == "destroy"
    assert parses == ["$.action", "$.builds[?(@.ok == true)].id"]
    with pytest.raises(json_path.NoSuchJsonPathError):
        json_path.extract_json("$.missing", job)


def test_a_result_path_parsed_once_writes_into_each_input_anew() -> None:
    compat.jsonpath.cache_clear()
    first, second = {"jobId": "1"}, {"jobId": "2"}
    for state in (first, second):
        compat.jsonpath("$.turn").update_or_create(state, {"acquired": True})
    assert first == {"jobId": "1", "turn": {"acquired": True}}
    assert second == {"jobId": "2", "turn": {"acquired": True}}
    assert compat.jsonpath.cache_info().misses == 1
