"""Environment models, validated once per container (at cold start, by the handler's decorator)."""

from __future__ import annotations

import functools
import os
from collections.abc import Callable
from typing import Any, TypeVar

from pydantic import BaseModel

Model = TypeVar("Model", bound=BaseModel)
Handler = TypeVar("Handler", bound=Callable[..., Any])


@functools.cache
def environment(model: type[Model]) -> Model:
    return model.model_validate(dict(os.environ))


def init_environment_variables(model: type[BaseModel]) -> Callable[[Handler], Handler]:
    """Fail the invocation before any work if the function's environment is wrong."""

    def decorator(handler: Handler) -> Handler:
        @functools.wraps(handler)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            environment(model)
            return handler(*args, **kwargs)

        return wrapper  # type: ignore[return-value]

    return decorator
