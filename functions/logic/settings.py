"""A project's own settings: whether its deploys and destroys wait for approval by default."""

from __future__ import annotations

from typing import Literal

from core.records import iso_now
from core.responses import ProjectSettingsOut
from core.transitions import Update
from functions.dal.projects import ProjectItem, ProjectStore

Approval = Literal["required", "auto"]


def _view(project_id: str, project: ProjectItem | None) -> ProjectSettingsOut:
    project = project or {}
    approval: Approval = "required" if project.get("approvalDefault") == "required" else "auto"
    return ProjectSettingsOut(
        projectId=project_id,
        approval=approval,
        updatedBy=project.get("settingsUpdatedBy"),
        updatedAt=project.get("settingsUpdatedAt"),
    )


def get_settings(projects: ProjectStore, project_id: str) -> ProjectSettingsOut:
    """A project never configured (or not yet deployed) has the defaults."""
    return _view(project_id, projects.get(project_id))


def put_settings(projects: ProjectStore, project_id: str, approval: Approval, by: str) -> ProjectSettingsOut:
    now = iso_now()
    projects.apply(
        Update(
            {"projectId": project_id},
            {"approvalDefault": approval, "settingsUpdatedBy": by, "settingsUpdatedAt": now},
            if_not_exists={"createdAt": now},
        )
    )
    return _view(project_id, projects.get(project_id))
