"""Local mode's Step Functions interpreter parses a definition once (localmode/compat.py), not at
every execution, and still gives each execution components of its own."""

from __future__ import annotations

from typing import Any

import pytest
from moto.stepfunctions.parser.asl.parse import asl_parser

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
