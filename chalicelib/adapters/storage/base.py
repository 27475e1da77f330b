"""The DynamoDB adapter shared by the table modules: item codec and error translation."""
from __future__ import annotations

import json
import time
from collections.abc import Iterator
from decimal import Decimal
from typing import Any

from boto3.dynamodb.types import TypeDeserializer, TypeSerializer
from botocore.exceptions import BotoCoreError, ClientError

from chalicelib.adapters import aws, aws_errors
from chalicelib.domain.errors import Conflict, Unavailable
from chalicelib.wiring.resources import TableDef
from chalicelib.wiring.settings import Settings

_SER = TypeSerializer()
BATCH_WRITE_MAX = 25  # BatchWriteItem's limit (AWS documentation, "BatchWriteItem")
BATCH_GET_MAX = 100  # BatchGetItem's limit
BATCH_RETRIES = 5
_DES = TypeDeserializer()
# ResourceNotFoundException: the table is missing, which in practice means the store is being (re)created
# (an emulator restart); the API answers 503 instead of a 500 with a traceback.
_OVERRIDES = {"ResourceNotFoundException": aws_errors.Category.RETRY}


class ConditionFailed(Conflict):
    """A conditional write did not apply; ``item`` is the current item when DynamoDB returned it."""

    def __init__(self, message: str, item: dict[str, Any] | None = None) -> None:
        super().__init__(message)
        self.item = item


def to_dynamo(value: dict[str, Any], json_fields: frozenset[str]) -> dict[str, Any]:
    """Plain values become attributes; complex fields are stored as JSON text; None is omitted."""
    out: dict[str, Any] = {}
    for key, val in value.items():
        if val is None:
            continue
        if key in json_fields:
            out[key] = {"S": json.dumps(val)}
        else:
            out[key] = _SER.serialize(_decimals(val))
    return out


def from_dynamo(item: dict[str, Any], json_fields: frozenset[str]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, raw in item.items():
        val = _DES.deserialize(raw)
        if key in json_fields and isinstance(val, str):
            val = json.loads(val)
        out[key] = _plain(val)
    return out


def _decimals(value: Any) -> Any:
    if isinstance(value, float):
        return Decimal(repr(value))
    if isinstance(value, dict):
        return {k: _decimals(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_decimals(v) for v in value]
    return value


def _plain(value: Any) -> Any:
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_plain(v) for v in value]
    return value


class Table:
    """A thin, typed face over one table; translates SDK errors into domain errors once."""

    def __init__(self, definition: TableDef, settings: Settings, client: Any | None = None) -> None:
        self.definition = definition
        self.name = definition.physical(settings.resource_prefix)
        self._client = client or aws.client("dynamodb", settings)

    def put(self, item: dict[str, Any], condition: str | None = None,
            values: dict[str, Any] | None = None, names: dict[str, str] | None = None) -> None:
        kwargs: dict[str, Any] = {"TableName": self.name, "Item": item}
        _conditional(kwargs, condition, values, names)
        try:
            self._call("put_item", **kwargs)
        except ConditionFailed as exc:
            if not _same_item(exc.item, item):
                raise
            # The item in the table is the one we put: the SDK retried our own write (its answer was lost
            # to a timeout or a dropped connection) and the retry found it. The write did apply.

    def get(self, key: dict[str, Any], consistent: bool = True) -> dict[str, Any] | None:
        resp = self._call("get_item", TableName=self.name, Key=key, ConsistentRead=consistent)
        return resp.get("Item")

    def update(self, key: dict[str, Any], expression: str, values: dict[str, Any] | None = None,
               names: dict[str, str] | None = None, condition: str | None = None) -> dict[str, Any]:
        kwargs: dict[str, Any] = {"TableName": self.name, "Key": key, "UpdateExpression": expression,
                                  "ReturnValues": "ALL_NEW"}
        _conditional(kwargs, condition, values, names)
        return self._call("update_item", **kwargs)["Attributes"]

    def update_typed(self, key: dict[str, Any], expression: str, names: dict[str, str],
                     typed: dict[str, Any], condition: str, values: dict[str, Any]) -> dict[str, Any]:
        """``update`` whose SET values are already in DynamoDB's typed form (a whole item's attributes)."""
        return self._call("update_item", TableName=self.name, Key=key, UpdateExpression=expression,
                          ConditionExpression=condition, ExpressionAttributeNames=names,
                          ExpressionAttributeValues={**typed, **serialize(values)}, ReturnValues="NONE")

    def delete(self, key: dict[str, Any], condition: str | None = None,
               values: dict[str, Any] | None = None, names: dict[str, str] | None = None) -> None:
        kwargs: dict[str, Any] = {"TableName": self.name, "Key": key}
        _conditional(kwargs, condition, values, names)
        self._call("delete_item", **kwargs)

    def query(self, pk_value: str, consistent: bool = True) -> Iterator[dict[str, Any]]:
        kwargs: dict[str, Any] = {
            "TableName": self.name,
            "KeyConditionExpression": "#pk = :pk",
            "ExpressionAttributeNames": {"#pk": self.definition.pk},
            "ExpressionAttributeValues": {":pk": {"S": pk_value}},
            "ConsistentRead": consistent,
        }
        yield from self._paginate("query", kwargs)

    def query_index(self, index: str, pk_name: str, pk_value: str,
                    sk_prefix: tuple[str, str] | None = None) -> Iterator[dict[str, Any]]:
        """Items of a global secondary index (eventually consistent in AWS, as every GSI read is); with
        ``sk_prefix`` (sort key, prefix) only those whose sort key starts with the prefix are read."""
        kwargs: dict[str, Any] = {
            "TableName": self.name,
            "IndexName": index,
            "KeyConditionExpression": "#pk = :pk",
            "ExpressionAttributeNames": {"#pk": pk_name},
            "ExpressionAttributeValues": {":pk": {"S": pk_value}},
        }
        if sk_prefix:
            kwargs["KeyConditionExpression"] += " AND begins_with(#sk, :prefix)"
            kwargs["ExpressionAttributeNames"]["#sk"] = sk_prefix[0]
            kwargs["ExpressionAttributeValues"][":prefix"] = {"S": sk_prefix[1]}
        yield from self._paginate("query", kwargs)

    def query_page(self, pk_value: str, limit: int, start: dict[str, Any] | None = None,
                   consistent: bool = False, live_after: float | None = None,
                   projection: str | None = None) -> tuple[list[dict[str, Any]], dict[str, Any] | None]:
        """One page of a partition: at most ``limit`` items from ``start`` (a LastEvaluatedKey) on, and the
        key to go on from (None at the end). ``live_after`` drops items whose TTL attribute has passed."""
        kwargs: dict[str, Any] = {
            "TableName": self.name, "KeyConditionExpression": "#pk = :pk", "Limit": limit,
            "ExpressionAttributeNames": {"#pk": self.definition.pk},
            "ExpressionAttributeValues": {":pk": {"S": pk_value}}, "ConsistentRead": consistent,
        }
        if start:
            kwargs["ExclusiveStartKey"] = start
        if live_after is not None and self.definition.ttl_attribute:
            kwargs["FilterExpression"] = "attribute_not_exists(#ttl) OR #ttl > :now"
            kwargs["ExpressionAttributeNames"]["#ttl"] = self.definition.ttl_attribute
            kwargs["ExpressionAttributeValues"][":now"] = {"N": str(int(live_after))}
        if projection:
            kwargs["ProjectionExpression"] = projection
            if "#st" in projection:
                kwargs["ExpressionAttributeNames"]["#st"] = "status"
        resp = self._call("query", **kwargs)
        return resp.get("Items", []), resp.get("LastEvaluatedKey")

    def index_page(self, index: str, pk_name: str, pk_value: str, limit: int,
                   start: dict[str, Any] | None = None) -> tuple[list[dict[str, Any]], dict[str, Any] | None]:
        """One page of a global secondary index partition (eventually consistent)."""
        kwargs: dict[str, Any] = {
            "TableName": self.name, "IndexName": index, "KeyConditionExpression": "#pk = :pk", "Limit": limit,
            "ExpressionAttributeNames": {"#pk": pk_name}, "ExpressionAttributeValues": {":pk": {"S": pk_value}},
        }
        if start:
            kwargs["ExclusiveStartKey"] = start
        resp = self._call("query", **kwargs)
        return resp.get("Items", []), resp.get("LastEvaluatedKey")

    def count(self, pk_name: str, pk_value: str, index: str | None = None, unless: str | None = None) -> int:
        """The items of one partition (of the table or of ``index``), counted by DynamoDB (Select=COUNT: one
        request per megabyte read, nothing returned); ``unless`` leaves out items having that attribute."""
        kwargs: dict[str, Any] = {"TableName": self.name, "KeyConditionExpression": "#pk = :pk", "Select": "COUNT",
                                  "ExpressionAttributeNames": {"#pk": pk_name},
                                  "ExpressionAttributeValues": {":pk": {"S": pk_value}}}
        if index:
            kwargs["IndexName"] = index
        if unless:
            kwargs["FilterExpression"] = "attribute_not_exists(#unless)"
            kwargs["ExpressionAttributeNames"]["#unless"] = unless
        total = 0
        while True:
            resp = self._call("query", **kwargs)
            total += int(resp.get("Count", 0))
            if not resp.get("LastEvaluatedKey"):
                return total
            kwargs["ExclusiveStartKey"] = resp["LastEvaluatedKey"]

    def walk(self, pk_name: str, pk_value: str, key_names: tuple[str, ...], start: dict[str, Any] | None = None,
             index: str | None = None, sk_range: tuple[str, str, str] | None = None,
             page: int = 200) -> Iterator[tuple[dict[str, Any], dict[str, Any]]]:
        """Items of one partition (of the table or of ``index``) from ``start`` on, each with its position
        (the ``key_names`` attributes: an ExclusiveStartKey that resumes right after it), read ``page``
        items per request, only as far as the caller iterates. ``sk_range`` is (sort key, low, high)."""
        kwargs: dict[str, Any] = {"TableName": self.name, "KeyConditionExpression": "#pk = :pk", "Limit": page,
                                  "ExpressionAttributeNames": {"#pk": pk_name},
                                  "ExpressionAttributeValues": {":pk": {"S": pk_value}}}
        if index:
            kwargs["IndexName"] = index
        if sk_range:
            kwargs["KeyConditionExpression"] += " AND #sk BETWEEN :low AND :high"
            kwargs["ExpressionAttributeNames"]["#sk"] = sk_range[0]
            kwargs["ExpressionAttributeValues"].update({":low": {"S": sk_range[1]}, ":high": {"S": sk_range[2]}})
        if start:
            kwargs["ExclusiveStartKey"] = start
        while True:
            resp = self._call("query", **kwargs)
            for item in resp.get("Items", []):
                yield item, {name: item[name] for name in key_names if name in item}
            if not resp.get("LastEvaluatedKey"):
                return
            kwargs["ExclusiveStartKey"] = resp["LastEvaluatedKey"]

    def get_many(self, keys: list[dict[str, Any]], consistent: bool = False) -> list[dict[str, Any]]:
        """BatchGetItem (100 keys a call; unprocessed keys asked again), in no particular order."""
        out: list[dict[str, Any]] = []
        for first in range(0, len(keys), BATCH_GET_MAX):
            pending: dict[str, Any] = {self.name: {"Keys": keys[first:first + BATCH_GET_MAX],
                                                   "ConsistentRead": consistent}}
            for _ in range(BATCH_RETRIES):
                resp = self._call("batch_get_item", RequestItems=pending)
                out.extend(resp.get("Responses", {}).get(self.name, []))
                pending = resp.get("UnprocessedKeys") or {}
                if not pending:
                    break
        return out

    def delete_many(self, keys: list[dict[str, Any]]) -> None:
        """Delete up to 25 keys per BatchWriteItem; unprocessed keys are sent again (bounded retries)."""
        self._write_many([{"DeleteRequest": {"Key": k}} for k in keys])

    def put_many(self, items: list[dict[str, Any]]) -> None:
        """Put up to 25 items per BatchWriteItem (unconditional); unprocessed ones are sent again."""
        self._write_many([{"PutRequest": {"Item": i}} for i in items])

    def _write_many(self, every: list[dict[str, Any]]) -> None:
        for start in range(0, len(every), BATCH_WRITE_MAX):
            requests = every[start:start + BATCH_WRITE_MAX]
            for _ in range(BATCH_RETRIES):
                resp = self._call("batch_write_item", RequestItems={self.name: requests})
                requests = resp.get("UnprocessedItems", {}).get(self.name, [])
                if not requests:
                    break
            if requests:
                raise Unavailable(f"DynamoDB batch write on {self.name}: {len(requests)} request(s) left")  # retry

    def transact(self, items: list[dict[str, Any]]) -> list[str]:
        """One TransactWriteItems; returns [] when it applied, else each item's cancellation code
        ("None" for the items that were not the cause)."""
        try:
            self._client.transact_write_items(TransactItems=items)
        except ClientError as exc:
            if aws_errors.code_of(exc) == "TransactionCanceledException":
                reasons = exc.response.get("CancellationReasons") or []
                return [str(r.get("Code", "None")) for r in reasons] or ["Unknown"]
            raise aws_errors.translate(exc, f"DynamoDB transaction on {self.name}", _OVERRIDES) from exc
        except BotoCoreError as exc:
            raise aws_errors.translate(exc, f"DynamoDB transaction on {self.name}") from exc
        return []

    def scan(self) -> Iterator[dict[str, Any]]:
        yield from self._paginate("scan", {"TableName": self.name})

    def scan_index(self, index: str, page: int | None = None) -> Iterator[dict[str, Any]]:
        """Every item of a global secondary index (eventually consistent, as every GSI read is), a page per
        request (1 MB of the index, or ``page`` items), only as far as the caller iterates. Meant for a
        sparse index, which holds only some of the table's items: a scan reads the whole index."""
        kwargs: dict[str, Any] = {"TableName": self.name, "IndexName": index}
        if page:
            kwargs["Limit"] = page
        yield from self._paginate("scan", kwargs)

    def _paginate(self, op: str, kwargs: dict[str, Any]) -> Iterator[dict[str, Any]]:
        while True:
            resp = self._call(op, **kwargs)
            yield from resp.get("Items", [])
            last = resp.get("LastEvaluatedKey")
            if not last:
                return
            kwargs["ExclusiveStartKey"] = last

    def _call(self, op: str, **kwargs: Any) -> dict[str, Any]:
        if op in {"put_item", "update_item", "delete_item"} and "ConditionExpression" in kwargs:
            kwargs["ReturnValuesOnConditionCheckFailure"] = "ALL_OLD"
        try:
            return getattr(self._client, op)(**kwargs)
        except ClientError as exc:
            if aws_errors.code_of(exc) == "ConditionalCheckFailedException":  # with the item it found
                raise ConditionFailed(f"condition failed on {self.name}", exc.response.get("Item")) from exc
            raise aws_errors.translate(exc, f"DynamoDB {op} on {self.name}", _OVERRIDES) from exc
        except BotoCoreError as exc:
            raise aws_errors.translate(exc, f"DynamoDB {op} on {self.name}") from exc


def _same_item(found: dict[str, Any] | None, item: dict[str, Any]) -> bool:
    """Compared as values (DynamoDB normalises numbers: "1.50" comes back as "1.5")."""
    if found is None or found.keys() != item.keys():
        return False
    return all(_DES.deserialize(found[k]) == _DES.deserialize(item[k]) for k in item)


def serialize(values: dict[str, Any]) -> dict[str, Any]:
    """Expression attribute values in DynamoDB's typed form."""
    return {k: _SER.serialize(_decimals(v)) for k, v in values.items()}


def _conditional(kwargs: dict[str, Any], condition: str | None, values: dict[str, Any] | None,
                 names: dict[str, str] | None) -> None:
    if condition:
        kwargs["ConditionExpression"] = condition
    if values:
        kwargs["ExpressionAttributeValues"] = serialize(values)
    if names:
        kwargs["ExpressionAttributeNames"] = names


def epoch() -> float:
    return time.time()
