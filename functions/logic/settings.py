"""A project's own settings: whether its deploys and destroys wait for approval by default, and
how often its drift is checked."""

from __future__ import annotations

from typing import Any, Literal

from core.records import iso_now
from core.responses import ProjectSettingsOut
from core.transitions import Update
from functions.dal.projects import ProjectItem, ProjectStore
from functions.dal.schedules import DriftSchedules
from functions.logic.drift import CHECKABLE, check_schedule, schedule_of

Approval = Literal["required", "auto"]


def _view(project_id: str, project: ProjectItem | None, drift_default: str) -> ProjectSettingsOut:
    project = project or {}
    approval: Approval = "required" if project.get("approvalDefault") == "required" else "auto"
    return ProjectSettingsOut(
        projectId=project_id,
        approval=approval,
        driftSchedule=schedule_of(project, drift_default),
        updatedBy=project.get("settingsUpdatedBy"),
        updatedAt=project.get("settingsUpdatedAt"),
    )


def get_settings(projects: ProjectStore, project_id: str, drift_default: str) -> ProjectSettingsOut:
    """A project never configured (or not yet deployed) has the defaults."""
    return _view(project_id, projects.get(project_id), drift_default)


def put_settings(
    projects: ProjectStore,
    project_id: str,
    by: str,
    *,
    approval: Approval | None = None,
    drift_schedule: str | None = None,
    schedules: DriftSchedules | None = None,
    drift_default: str,
) -> ProjectSettingsOut:
    """Records the settings and who changed them; a deployed project's drift schedule follows at
    once (a project deployed later gets it with its deploy)."""
    now = iso_now()
    fields: dict[str, Any] = {"settingsUpdatedBy": by, "settingsUpdatedAt": now}
    if approval is not None:
        fields["approvalDefault"] = approval
    if drift_schedule is not None:
        fields["driftSchedule"] = check_schedule(drift_schedule)
    projects.apply(Update({"projectId": project_id}, fields, if_not_exists={"createdAt": now}))
    project = projects.get(project_id)
    if (
        drift_schedule is not None
        and schedules is not None
        and (project or {}).get("deploymentStatus") in CHECKABLE
    ):
        schedules.ensure(project_id, schedule_of(project, drift_default))
    return _view(project_id, project, drift_default)
