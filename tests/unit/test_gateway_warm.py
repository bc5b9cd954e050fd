"""An API worker builds what a first request would before it takes one: the handlers, the HCL
parser and the AWS clients (a worker's first deploy was ~0.5 s slower than its next)."""

from __future__ import annotations

import pytest

from core.hcl import native
from functions.dal import aws
from localmode.gateway import Gateway


def test_warm_builds_the_parser_and_the_clients(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AWS_ENDPOINT_URL", "http://127.0.0.1:1")  # clients are built, never called
    native._parser.cache_clear()
    for cached in (aws.dynamodb, aws.s3, aws.stepfunctions, aws.scheduler):
        cached.cache_clear()
    try:
        Gateway().warm()
        assert native._parser.cache_info().currsize == 1
        for cached in (aws.dynamodb, aws.s3, aws.stepfunctions, aws.scheduler):
            assert cached.cache_info().currsize == 1, cached
        assert aws.s3().meta.endpoint_url == "http://127.0.0.1:1"
    finally:
        for cached in (aws.dynamodb, aws.s3, aws.stepfunctions, aws.scheduler):
            cached.cache_clear()
