"""The nonces table: PK ``target`` (``tenant#actor#id`` or ``tenant#alias#name``), SK ``handle``.

Redemption is one conditional UpdateItem (reliability plan §2): the use is counted and, for a limited
nonce, ``remaining_uses`` decremented only while it is positive and the nonce has not expired;
``decrement`` (1, or 0 for unlimited nonces) is stored on the item so one expression serves both kinds
without a read-modify-write. ``expires_at`` (epoch seconds) is the table's TTL attribute: DynamoDB
deletes expired nonces eventually (emulators never), so the service filters reads on it too.
"""
from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from chalicelib.adapters.storage.base import ConditionFailed, Table, from_dynamo, to_dynamo
from chalicelib.domain.access import Kind
from chalicelib.domain.errors import BadRequest, Conflict, NotFound
from chalicelib.domain.models import Nonce, utcnow
from chalicelib.wiring.resources import NONCES
from chalicelib.wiring.settings import Settings

_JSON_FIELDS = frozenset({"roles"})


class Exhausted(Exception):
    """The nonce exists but has no remaining uses."""


class Expired(Exception):
    """The nonce exists but its expiry has passed."""


def target(kind: Kind, tenant: str, name: str) -> str:
    return f"{tenant}#{kind.value}#{name}"


def _key(target_key: str, handle: str) -> dict[str, Any]:
    return {"target": {"S": target_key}, "handle": {"S": handle}}


def _from_item(item: dict[str, Any]) -> Nonce:
    data = from_dynamo(item, _JSON_FIELDS)
    for internal in ("target", "decrement"):
        data.pop(internal, None)
    return Nonce.model_validate(data)


def _to_item(target_key: str, nonce: Nonce) -> dict[str, Any]:
    """The item mapping: the nonce's fields, its key's ``target`` and the store's own ``decrement``."""
    data = nonce.model_dump(mode="json")
    data.update(target=target_key, decrement=0 if nonce.max_uses == -1 else 1)
    return to_dynamo(data, _JSON_FIELDS)


class NonceStore:
    def __init__(self, settings: Settings, client: Any | None = None) -> None:
        self._table = Table(NONCES, settings, client)

    def create(self, target_key: str, nonce: Nonce) -> None:
        try:
            self._table.put(_to_item(target_key, nonce), condition="attribute_not_exists(handle)")
        except ConditionFailed as exc:
            raise Conflict("nonce handle collision; retry") from exc

    def find(self, target_key: str, handle: str) -> Nonce | None:
        item = self._table.get(_key(target_key, handle))
        return _from_item(item) if item else None

    def list(self, target_key: str, limit: int | None = None) -> list[Nonce]:
        """An object's nonces (at most ``limit``: one page, for the API's list without paging parameters)."""
        items = self._table.query(target_key) if limit is None else \
            self._table.query_page(target_key, limit, consistent=True)[0]
        return sorted((_from_item(i) for i in items), key=lambda n: n.create_time)

    def walk(self, target_key: str, start: dict[str, Any] | None = None) -> Iterator[tuple[Nonce, dict[str, Any]]]:
        """An object's nonces in handle order from ``start`` on, each with its position (paged lists)."""
        if start is not None and start.get("target") != {"S": target_key}:
            raise BadRequest("cursor is not valid for this collection; use the value of _metadata.next_cursor.")
        for item, key in self._table.walk("target", target_key, ("target", "handle"), start):
            yield _from_item(item), key

    def delete(self, target_key: str, handle: str) -> None:
        try:
            self._table.delete(_key(target_key, handle), condition="attribute_exists(handle)")
        except ConditionFailed as exc:
            raise NotFound(f"Nonce {handle} not found.") from exc

    def delete_all(self, target_key: str) -> None:
        for item in self._table.query(target_key):
            self._table.delete(_key(target_key, item["handle"]["S"]))

    def redeem(self, target_key: str, handle: str, secret_hash: str, now: int) -> Nonce:
        """Count one use atomically; ``Exhausted`` when none is left, ``Expired`` once ``expires_at`` is not
        after ``now`` (epoch seconds), ``NotFound`` when it is gone."""
        try:
            item = self._table.update(
                _key(target_key, handle),
                "SET current_uses = current_uses + :one, remaining_uses = remaining_uses - decrement, "
                "last_use_time = :now",
                values={":one": 1, ":zero": 0, ":now": utcnow(), ":h": secret_hash, ":epoch": now},
                condition="secret_hash = :h AND (decrement = :zero OR remaining_uses > :zero) "
                          "AND (attribute_not_exists(expires_at) OR expires_at > :epoch)")
        except ConditionFailed as exc:
            if exc.item and exc.item.get("secret_hash", {}).get("S") == secret_hash:
                expires = exc.item.get("expires_at", {}).get("N")
                if expires is not None and int(expires) <= now:
                    raise Expired() from exc
                raise Exhausted() from exc
            raise NotFound("nonce not found") from exc
        return _from_item(item)
