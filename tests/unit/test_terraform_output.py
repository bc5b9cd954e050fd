"""Reading terraform's output: counts as terraform counts them, errors a user can act on."""

from __future__ import annotations

from typing import Any

from runner.terraform_output import (
    diagnostic_text,
    plan_summary,
    state_summary,
    summary_from_events,
    text_error,
)


def test_a_replace_counts_as_one_add_and_one_destroy() -> None:
    plan = {
        "resource_changes": [
            {"change": {"actions": ["create"]}},
            {"change": {"actions": ["delete", "create"]}},
            {"change": {"actions": ["update"]}},
            {"change": {"actions": ["no-op"]}},
            {"change": {"actions": ["read"]}},
        ]
    }
    assert plan_summary(plan) == {"add": 2, "change": 1, "destroy": 1}
    assert plan_summary({}) == {"add": 0, "change": 0, "destroy": 0}


def test_the_last_change_summary_event_wins() -> None:
    events: list[dict[str, Any]] = [
        {"type": "change_summary", "changes": {"add": 9, "change": 9, "remove": 9}},
        {"type": "planned_change"},
        {"type": "change_summary", "changes": {"add": 1, "change": 0, "remove": 2}},
    ]
    assert summary_from_events(events) == {"add": 1, "change": 0, "destroy": 2}


def test_state_summary_counts_managed_instances_only() -> None:
    state = {
        "serial": 7,
        "lineage": "abc",
        "terraform_version": "1.11.4",
        "resources": [
            {"mode": "managed", "instances": [{}, {}]},
            {"mode": "data", "instances": [{}]},
        ],
    }
    assert state_summary(state) == {
        "serial": 7,
        "lineage": "abc",
        "terraformVersion": "1.11.4",
        "resourceCount": 2,
    }


def test_a_held_state_lock_names_its_holder() -> None:
    detail = "Lock Info:\n  ID:        1234\n  Path: x\n  Operation: OperationTypeApply\n  Who:       root@h\n  Version: 1\n  Created:   2026-12-02 00:00:00\n"
    text = diagnostic_text({"summary": "Error acquiring the state lock", "detail": detail})
    assert "lock 1234 held by root@h for OperationTypeApply since 2026-12-02 00:00:00" in text


def test_a_diagnostic_says_where() -> None:
    text = diagnostic_text(
        {
            "summary": "Unsupported argument",
            "detail": '\nAn argument named "x" is not expected here.',
            "range": {"filename": "main.tf", "start": {"line": 3}},
        }
    )
    assert text == 'Unsupported argument (main.tf:3): An argument named "x" is not expected here.'


def test_the_first_error_of_human_output_with_its_place() -> None:
    lines = [
        "",
        "│ Error: Invalid reference",
        "│ ",
        "│   on main.tf line 4, in resource:",
        "╵",
        "Error: later",
    ]
    assert text_error(lines) == "Invalid reference (main.tf:4)"
    assert text_error(["all fine"]) == ""
