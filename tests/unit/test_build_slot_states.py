"""The workflow's build slots, read from statemachine/provisioning.asl.json as a graph: no build
starts without a slot, no path out of a build ends (or waits for people) still holding one."""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from typing import Any

from localmode.emulator import WORKFLOW_DEFINITION

ASL: dict[str, Any] = json.loads(WORKFLOW_DEFINITION.read_text())
STATES: dict[str, dict[str, Any]] = ASL["States"]


def _step(state: dict[str, Any]) -> str | None:
    step = (state.get("Parameters") or {}).get("Payload", {}).get("step")
    return str(step) if step else None


BUILDS = {
    name for name, s in STATES.items() if str(s.get("Resource", "")).startswith("arn:aws:states:::codebuild")
}
TAKES = {name for name, s in STATES.items() if _step(s) == "take_build_slot"}
RELEASES = {name for name, s in STATES.items() if _step(s) == "release_build_slot"}
TERMINALS = {name for name, s in STATES.items() if s["Type"] in ("Succeed", "Fail") or s.get("End")}
PEOPLE = {name for name, s in STATES.items() if str(s.get("Resource", "")).endswith(".waitForTaskToken")}


def successors(name: str) -> Iterator[str]:
    state = STATES[name]
    for key in ("Next", "Default"):
        if key in state:
            yield state[key]
    for branch in state.get("Choices", []) + state.get("Catch", []):
        yield branch["Next"]


def reachable(starts: Iterable[str], blocked: set[str]) -> set[str]:
    """Every state reachable from ``starts`` without passing through a ``blocked`` state."""
    seen: set[str] = set()
    todo = [s for s in starts if s not in blocked]
    while todo:
        name = todo.pop()
        if name in seen:
            continue
        seen.add(name)
        todo += [n for n in successors(name) if n not in blocked]
    return seen


def test_the_four_builds_and_their_slot_steps_are_all_there() -> None:
    assert {
        "Run terraform in CodeBuild",
        "Check for drift in CodeBuild",
        "Plan in CodeBuild",
        "Apply the plan in CodeBuild",
    } == BUILDS
    assert {"Take a build slot", "Take a build slot for the apply"} == TAKES
    assert len(RELEASES) == 5
    assert {"Wait for approval"} == PEOPLE


def test_no_build_starts_without_taking_a_slot() -> None:
    # Every way from the start to a build passes a take (whose only way on is being granted)
    assert not reachable([ASL["StartAt"]], TAKES) & BUILDS


def test_a_slot_is_only_left_through_its_choice() -> None:
    for take in TAKES:
        [choice] = [n for n in successors(take) if STATES[n]["Type"] == "Choice"]
        granted = [c["Next"] for c in STATES[choice]["Choices"] if c["Variable"] == "$.slot.granted"]
        assert len(granted) == 1 and (granted[0] in BUILDS or granted[0] == "Mark the job as processing")


def test_every_path_out_of_a_build_hands_the_slot_back_before_it_ends_or_waits_for_people() -> None:
    # From a build (success and every Catch), nothing terminal or waiting for people is reachable
    # without passing a release first
    for build in BUILDS:
        leaks = reachable(successors(build), RELEASES) & (TERMINALS | PEOPLE)
        assert not leaks, (build, leaks)


def test_a_granted_slot_is_handed_back_on_every_path_even_without_a_build() -> None:
    # A saved plan's apply holds its slot through its policy check: a stop or a wait releases it
    for take in TAKES:
        leaks = reachable(successors(take), RELEASES | TAKES) & (TERMINALS | PEOPLE)
        # "Job left the queue" ends a job that never reached a take
        assert not leaks, (take, leaks)


def test_a_release_that_fails_never_fails_the_job() -> None:
    for release in RELEASES:
        state = STATES[release]
        assert [c["Next"] for c in state["Catch"]] == [state["Next"]], release
