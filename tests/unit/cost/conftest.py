from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import pytest

from cost import estimate


def hcl_total(hcl: str, usage: Mapping[str, Any] | None = None, region: str = "us-east-1") -> float:
    report = estimate(files={"main.tf": hcl}, usage=usage, default_region=region)
    return float(report.to_dict()["costs"]["total"])


@pytest.fixture
def total() -> Any:
    return hcl_total
