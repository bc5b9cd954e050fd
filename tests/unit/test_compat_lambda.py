"""Local mode's stand-in for Lambda invokes of the workflow's own steps (localmode/compat.py): the
answers the ASL's Retry and Catch read must be the ones Lambda gives."""

from __future__ import annotations

import json
from typing import Any

from functions.models.exceptions import NotAwaitingApproval
from localmode import compat


def _step(event: dict[str, Any]) -> dict[str, Any]:
    if event.get("step") == "explode":
        raise NotAwaitingApproval("job x is not waiting for approval")
    return {"echo": event}


def test_a_registered_function_answers_with_its_result_by_name_and_by_arn() -> None:
    compat.register_function("steps-under-test", _step)
    by_name = compat.invoke_registered("steps-under-test", json.dumps({"step": "take_turn"}))
    arn = "arn:aws:lambda:us-east-1:123456789012:function:steps-under-test:$LATEST"
    by_arn = compat.invoke_registered(arn, b'{"step": "review_plan"}')
    assert by_name is not None and by_arn is not None
    assert by_name[0] == 200 and "x-amz-function-error" not in by_name[1]
    assert json.loads(by_name[2]) == {"echo": {"step": "take_turn"}}
    assert json.loads(by_arn[2]) == {"echo": {"step": "review_plan"}}


def test_an_exception_is_a_function_error_named_after_its_class() -> None:
    compat.register_function("steps-under-test", _step)
    answer = compat.invoke_registered("steps-under-test", json.dumps({"step": "explode"}))
    assert answer is not None
    status, headers, body = answer
    # Lambda answers 200 with the error in the payload; Step Functions names the error errorType.
    assert status == 200 and headers["x-amz-function-error"] == "Unhandled"
    assert json.loads(body) == {
        "errorType": "NotAwaitingApproval",
        "errorMessage": "job x is not waiting for approval",
    }


def test_an_unregistered_function_is_left_to_moto() -> None:
    assert compat.invoke_registered("someone-elses-function", "{}") is None
