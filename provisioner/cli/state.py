"""How the state history looks on a terminal: one row per version, newest first."""

from __future__ import annotations

from typing import Any

from rich.table import Table


def versions_table(document: dict[str, Any]) -> Table:
    table = Table(title=f"state versions of {document.get('projectId')}", title_justify="left")
    for column in ("serial", "written by", "time", "terraform", "resources", "size", "version id"):
        table.add_column(column, justify="right" if column in ("serial", "resources", "size") else "left")
    for version in document.get("versions") or []:
        writer = version.get("writtenBy")
        if writer:
            by = f"{writer['kind']} of serial {writer['fromSerial']} by {writer['by']}: {writer['reason']}"
        else:
            by = version.get("jobId") or "(unknown)"
        table.add_row(
            f"{version['serial']}{' *' if version.get('isLatest') else ''}",
            by,
            str(version.get("lastModified", "")),
            str(version.get("terraformVersion", "")),
            str(version.get("resourceCount", "")),
            str(version.get("size", "")),
            str(version.get("versionId", "")),
        )
    return table
