"""A DynamoDB table's items as Python values, over the low-level client.

The calls and arguments are ``Table``'s (boto3's resource layer), so the same transitions run on
either; the values go through boto3's own TypeSerializer and TypeDeserializer. Building the
resource layer costs a process ~0.06 s (its model and generated classes); a second client of a
loaded session costs ~3 ms, and the runner, a process per job, pays it on its hot path.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from boto3.dynamodb.types import TypeDeserializer, TypeSerializer

if TYPE_CHECKING:
    from mypy_boto3_dynamodb.client import DynamoDBClient

_SERIALIZER = TypeSerializer()
_DESERIALIZER = TypeDeserializer()
# Arguments whose values are item values, not names or expressions.
_VALUE_ARGUMENTS = ("Key", "Item", "ExpressionAttributeValues")


class ItemTable:
    """``get_item``, ``put_item``, ``update_item`` and ``delete_item`` as ``Table`` takes them."""

    def __init__(self, client: DynamoDBClient, name: str) -> None:
        self.client = client
        self.name = name

    def get_item(self, **arguments: Any) -> dict[str, Any]:
        answer = self.client.get_item(**self._request(arguments))
        item = answer.get("Item")
        return {"Item": _python(item)} if item is not None else {}

    def put_item(self, **arguments: Any) -> dict[str, Any]:
        return self._answer(self.client.put_item(**self._request(arguments)))

    def update_item(self, **arguments: Any) -> dict[str, Any]:
        return self._answer(self.client.update_item(**self._request(arguments)))

    def delete_item(self, **arguments: Any) -> dict[str, Any]:
        return self._answer(self.client.delete_item(**self._request(arguments)))

    def _request(self, arguments: Mapping[str, Any]) -> Any:
        request: dict[str, Any] = {"TableName": self.name, **arguments}
        for name in _VALUE_ARGUMENTS:
            if name in request:
                request[name] = {k: _SERIALIZER.serialize(v) for k, v in request[name].items()}
        return request

    @staticmethod
    def _answer(answer: Mapping[str, Any]) -> dict[str, Any]:
        attributes = answer.get("Attributes")
        return {"Attributes": _python(attributes)} if attributes is not None else {}


def _python(item: Mapping[str, Any]) -> dict[str, Any]:
    return {k: _DESERIALIZER.deserialize(v) for k, v in item.items()}
