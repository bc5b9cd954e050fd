"""The bundled price catalog: AWS public list prices by price key and region, with their sources.

A price key names one billable dimension (``ec2:t3.micro``, ``ebs:gp3:storage``, ``nat:hour``).
Every price carries the id of the source it was read from; ``sources`` says what each id is and
when it was read. A key that has no price for a region is simply absent: callers report that
component as unpriced instead of borrowing another region's figure.
"""

from __future__ import annotations

import gzip
import json
from collections.abc import Mapping
from dataclasses import dataclass
from functools import cached_property, lru_cache
from pathlib import Path
from typing import Any

DATA_FILE = Path(__file__).with_name("data") / "prices.json.gz"

# Route 53 and a few other services bill one global price, whatever the resource's region.
GLOBAL_REGION = "global"


@dataclass(frozen=True, slots=True)
class Price:
    key: str
    region: str
    amount: float
    unit: str
    source: str


@dataclass(frozen=True, slots=True)
class Source:
    id: str
    title: str
    url: str
    date: str

    def as_dict(self) -> dict[str, str]:
        return {"id": self.id, "title": self.title, "url": self.url, "date": self.date}


class PriceCatalog:
    """An index over the catalog document: one dict lookup per price."""

    def __init__(self, document: Mapping[str, Any]) -> None:
        self.currency = str(document.get("currency", "USD"))
        self.as_of = str(document.get("asOf", ""))
        self.sources: dict[str, Source] = {
            sid: Source(sid, str(s.get("title", "")), str(s.get("url", "")), str(s.get("date", "")))
            for sid, s in dict(document.get("sources", {})).items()
        }
        self._prices: dict[tuple[str, str], Price] = {}
        self._regions: set[str] = set()
        self._keys: set[str] = set()
        for key, entry in dict(document.get("prices", {})).items():
            unit = str(entry["unit"])
            default_source = str(entry.get("source", ""))
            overrides = dict(entry.get("regionSources", {}))
            for region, amount in dict(entry["regions"]).items():
                source = str(overrides.get(region, default_source))
                self._prices[(key, region)] = Price(key, region, float(amount), unit, source)
                self._regions.add(region)
            self._keys.add(key)

    def lookup(self, key: str, region: str) -> Price | None:
        """The price of ``key`` in ``region`` (or its global price), None when not in the catalog."""
        return self._prices.get((key, region)) or self._prices.get((key, GLOBAL_REGION))

    def has_key(self, key: str) -> bool:
        return key in self._keys

    @cached_property
    def vocabulary(self) -> frozenset[str]:
        """Every term of every price key and every region, lower case: public AWS product words."""
        terms = {part.lower() for key in self._keys for part in key.split(":")}
        return frozenset(terms | self._regions)

    @property
    def regions(self) -> frozenset[str]:
        return frozenset(self._regions - {GLOBAL_REGION})

    def __len__(self) -> int:
        return len(self._prices)

    def entries(self) -> list[Price]:
        return list(self._prices.values())


def read_document(path: Path = DATA_FILE) -> dict[str, Any]:
    with gzip.open(path, "rt", encoding="utf-8") as handle:
        document = json.load(handle)
    if not isinstance(document, dict):
        raise ValueError(f"{path}: the catalog must be a JSON object")
    return document


@lru_cache(maxsize=4)
def load_catalog(path: Path = DATA_FILE) -> PriceCatalog:
    """The catalog at ``path`` (the bundled one by default), parsed and indexed once per process."""
    return PriceCatalog(read_document(path))


def write_document(document: Mapping[str, Any], path: Path) -> None:
    """Compact JSON, gzip with a fixed mtime so a rebuild of the same data gives the same bytes."""
    payload = json.dumps(document, sort_keys=True, separators=(",", ":")).encode("utf-8")
    with path.open("wb") as raw, gzip.GzipFile(fileobj=raw, mode="wb", mtime=0) as handle:
        handle.write(payload)
