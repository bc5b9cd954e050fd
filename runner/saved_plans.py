"""A plan made by one build and applied by another: what is recorded about it, and when it is stale.

Stage ``plan`` keeps terraform's binary plan file (and the lock file it was planned with) in the
state bucket, and records on the job the state the plan was made against. Stage ``apply`` refuses
the plan when the project's state has moved since (another deploy in between): terraform would
refuse it too, but only once the build got that far, and with a less telling message.
"""

from __future__ import annotations

import json
import zipfile
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from core.records import code_digest

PLAN_STATE_MEMBER = "tfstate"
STALE_PREFIX = "stale plan: "


@dataclass(frozen=True)
class StateIdentity:
    """Which state a plan was made against: None for both when there was none."""

    serial: int | None
    lineage: str | None

    @classmethod
    def of_state(cls, state: Mapping[str, Any] | None) -> StateIdentity:
        """A state document's serial and lineage; a state with no lineage is no state yet."""
        if not state or not state.get("lineage"):
            return cls(None, None)
        serial = state.get("serial")
        return cls(int(serial) if isinstance(serial, (int, float, str)) else None, str(state["lineage"]))

    @classmethod
    def of_record(cls, saved_plan: Mapping[str, Any]) -> StateIdentity:
        serial = saved_plan.get("stateSerial")
        lineage = saved_plan.get("stateLineage")
        return cls(
            None if serial is None else int(serial),
            None if lineage is None or lineage == "" else str(lineage),
        )


def planned_state(plan_file: Path) -> StateIdentity | None:
    """The prior state a plan file holds (its ``tfstate`` member), or None when it cannot be read."""
    try:
        with zipfile.ZipFile(plan_file) as archive:
            document = json.loads(archive.read(PLAN_STATE_MEMBER))
    except (OSError, KeyError, ValueError, zipfile.BadZipFile):
        return None
    return StateIdentity.of_state(document if isinstance(document, dict) else None)


def stale_reason(planned: StateIdentity, current: StateIdentity) -> str | None:
    """Why a plan made against ``planned`` may not be applied to ``current``; None if it may."""
    if planned == current:
        return None
    if planned.lineage is None:
        return f"the state was made since the plan (serial {current.serial}); the plan expected none"
    if current.lineage is None:
        return f"the state is gone since the plan (the plan expected serial {planned.serial})"
    if planned.lineage != current.lineage:
        return f"the state's lineage changed since the plan: {planned.lineage} → {current.lineage}"
    return f"the state moved since the plan: serial {planned.serial} → {current.serial}"


def code_hash(root: Path, files: Iterable[str]) -> str:
    """sha256 over the workspace's files (sorted relative paths and their contents): the user's
    code as submitted, before the runner adds its own files. The same digest as the API's job
    field ``codeHash`` (functions/logic/submit.py), so the two can be compared."""
    return code_digest({name: (root / name).read_bytes() for name in files})


def has_changes(summary: Mapping[str, int], plan: Mapping[str, Any]) -> bool:
    """Whether applying the plan would change anything: a resource, or a root output."""
    if summary.get("add", 0) + summary.get("change", 0) + summary.get("destroy", 0) > 0:
        return True
    for change in (plan.get("output_changes") or {}).values():
        actions = (change or {}).get("actions") if isinstance(change, Mapping) else None
        if actions and list(actions) != ["no-op"]:
            return True
    return False


def saved_plan_record(
    *,
    key: str,
    state: StateIdentity,
    terraform_version: str,
    created_at: str,
    changes: bool,
    workspace_hash: str,
) -> dict[str, Any]:
    """The job's ``savedPlan`` field."""
    return {
        "key": key,
        "stateSerial": state.serial,
        "stateLineage": state.lineage,
        "terraformVersion": terraform_version,
        "createdAt": created_at,
        "hasChanges": changes,
        "codeHash": workspace_hash,
    }
