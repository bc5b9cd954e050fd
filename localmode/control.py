"""Local mode's test hooks, under ``/_local/`` and only with ``LOCAL_FAULT_INJECTION=true``:
inject AWS errors, restart the emulator, and see the builds (with their PIDs) and the state locks
(lock table items and lock files)."""

from __future__ import annotations

import json
import threading
from dataclasses import dataclass
from typing import Any

from core.records import LOCKFILE_SUFFIX, STATE_PREFIX
from localmode.codebuild import LocalBuilds
from localmode.emulator import EmulatorServer, ServiceResources, emulator_session
from localmode.faults import FaultRule


@dataclass
class LocalControl:
    emulator: EmulatorServer
    builds: LocalBuilds
    resources: ServiceResources

    def handle(self, method: str, path: str, body: bytes | None) -> tuple[int, dict[str, Any]]:
        payload: dict[str, Any] = json.loads(body) if body else {}
        if method == "GET" and path == "/_local/info":
            return 200, self._info()
        if method == "POST" and path == "/_local/faults":
            rule = FaultRule(
                service=str(payload["service"]),
                error=str(payload["error"]),
                count=int(payload.get("count", 1)),
                operation=payload.get("operation"),
                client=payload.get("client"),
                status=payload.get("status"),
            )
            self.emulator.faults.add(rule)
            return 200, {"pending": self.emulator.faults.pending()}
        if method == "DELETE" and path == "/_local/faults":
            self.emulator.faults.clear()
            return 200, {"pending": []}
        if method == "POST" and path == "/_local/emulator/restart":
            down = float(payload.get("downSeconds", 2))
            threading.Thread(target=self.emulator.restart, args=(down,), daemon=True).start()
            return 202, {"downSeconds": down}
        return 404, {"error": "not_found", "message": f"no local control {method} {path}"}

    def _info(self) -> dict[str, Any]:
        session = emulator_session(self.resources.region)
        locks = session.client("dynamodb", endpoint_url=self.emulator.endpoint_url)
        held = [
            item["LockID"]["S"]
            for item in locks.scan(TableName=self.resources.lock_table).get("Items", [])
            if "Info" in item
        ]
        # Terraform 1.10+'s lock files, named as the reaper names them: "<bucket>/<key>.tflock".
        bucket = self.resources.state_bucket
        s3 = session.client("s3", endpoint_url=self.emulator.endpoint_url)
        for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=STATE_PREFIX):
            held += [
                f"{bucket}/{entry['Key']}"
                for entry in page.get("Contents", [])
                if entry["Key"].endswith(LOCKFILE_SUFFIX)
            ]
        return {
            "emulator": self.emulator.endpoint_url,
            "faultsInjected": self.emulator.faults.injected,
            "pendingFaults": self.emulator.faults.pending(),
            "stateLocks": held,
            "builds": self.builds.summary(),
        }
