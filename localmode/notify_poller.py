"""The notifier's event source mappings, locally: a thread reads the jobs and projects tables'
DynamoDB streams in the emulator and hands each batch to the same notifier handler Lambda would
(functions/handlers/notifier_handler.py), and runs its periodic retry pass on a timer.

As Lambda does, a batch the handler reports failed (batchItemFailures) is read again from the
failed record on; the handler's delivery records make the second reading send nothing twice.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from localmode.emulator import ServiceResources, emulator_session
from localmode.gateway import LocalContext

NOTIFIER_FUNCTION = "provisioner-notifier"
Handler = Callable[[dict[str, Any]], dict[str, Any]]


def _notifier(event: dict[str, Any]) -> dict[str, Any]:
    from functions.handlers.notifier_handler import lambda_handler  # noqa: PLC0415 - needs the environment set

    result: dict[str, Any] = lambda_handler(event, LocalContext(NOTIFIER_FUNCTION))
    return result


@dataclass
class _Shard:
    stream_arn: str
    shard_id: str
    iterator: str | None = None
    # The last record handed over and not reported failed.
    last_sequence: str | None = None


class StreamPoller:
    def __init__(
        self,
        endpoint_url: str,
        resources: ServiceResources,
        *,
        interval: float = 0.5,
        retry_interval: float = 10,
        handler: Handler = _notifier,
        log: Callable[[str], None] = lambda _message: None,
    ) -> None:
        self.endpoint_url = endpoint_url
        self.resources = resources
        self.interval = interval
        self.retry_interval = retry_interval
        self.handler = handler
        self.log = log
        session = emulator_session(resources.region)
        self._dynamodb = session.client("dynamodb", endpoint_url=endpoint_url)
        self._streams = session.client("dynamodbstreams", endpoint_url=endpoint_url)
        self._shards: list[_Shard] = []
        self._failures = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="notify-streams", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=30)

    def _open(self) -> None:
        shards: list[_Shard] = []
        for table in (self.resources.jobs_table, self.resources.projects_table):
            arn = self._dynamodb.describe_table(TableName=table)["Table"].get("LatestStreamArn")
            if not arn:
                raise RuntimeError(f"the {table} table has no stream")
            for shard in self._streams.describe_stream(StreamArn=arn)["StreamDescription"].get("Shards", []):
                shards.append(_Shard(arn, shard["ShardId"]))
        self._shards = shards

    def _iterator(self, shard: _Shard) -> str:
        arguments: dict[str, Any] = {"StreamArn": shard.stream_arn, "ShardId": shard.shard_id}
        if shard.last_sequence is None:
            arguments["ShardIteratorType"] = "TRIM_HORIZON"
        else:
            arguments |= {"ShardIteratorType": "AFTER_SEQUENCE_NUMBER", "SequenceNumber": shard.last_sequence}
        return str(self._streams.get_shard_iterator(**arguments)["ShardIterator"])

    def poll_once(self) -> int:
        """Read every shard once and hand over what is new; returns the records handed over."""
        if not self._shards:
            self._open()
        handed = 0
        for shard in self._shards:
            shard.iterator = shard.iterator or self._iterator(shard)
            page = self._streams.get_records(ShardIterator=shard.iterator, Limit=100)
            records = page.get("Records", [])
            shard.iterator = page.get("NextShardIterator")
            if not records:
                continue
            source = shard.stream_arn
            event = {"Records": [{**record, "eventSourceARN": source} for record in records]}
            failures = self.handler(event).get("batchItemFailures") or []
            handed += len(records)
            if failures:
                # Lambda's bisect-free retry: start again at the first failed record.
                failed = str(failures[0]["itemIdentifier"])
                before = [r for r in records if int(r["dynamodb"]["SequenceNumber"]) < int(failed)]
                shard.last_sequence = (
                    before[-1]["dynamodb"]["SequenceNumber"] if before else shard.last_sequence
                )
                shard.iterator = None
            else:
                shard.last_sequence = records[-1]["dynamodb"]["SequenceNumber"]
        return handed

    def retry_pass(self) -> None:
        self.handler({"source": "localmode.schedule", "detail-type": "Scheduled Event"})

    def _run(self) -> None:
        next_retry = time.monotonic() + self.retry_interval
        while not self._stop.wait(self.interval):
            try:
                self.poll_once()
                if time.monotonic() >= next_retry:
                    next_retry = time.monotonic() + self.retry_interval
                    self.retry_pass()
                self._failures = 0
            except Exception as exc:  # the emulator may be restarting; the next pass tries again
                self._failures += 1
                self.log(f"notify streams pass failed: {type(exc).__name__}: {exc}")
                for shard in self._shards:
                    shard.iterator = None
                if self._failures > 1:
                    self._shards = []  # a restarted emulator has new streams: open them again
