"""Sharing and discovery: aliases, nonces, permissions, configs (secrets) and search (tapipy's names)."""
from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

from abaco_sdk.models import Alias, Config, Nonce, Record, wrap
from abaco_sdk.paths import seg

SEARCH_PAGE = 100  # Abaco's default search limit
SEARCH_KINDS = ("actors", "workers", "executions", "logs")
NONCE_LEVELS = ("NONE", "READ", "EXECUTE", "UPDATE")


class SharingMixin:
    """Mixed into ``ActorsApi``; relies on its ``_call`` and ``_result``."""

    def _call(self, method: str, path: str, **kwargs: Any) -> Any:  # provided by ActorsApi
        raise NotImplementedError

    def _result(self, method: str, path: str, cls: type[Record] = Record, **kwargs: Any) -> Any:
        raise NotImplementedError

    # --- permissions ------------------------------------------------------------------------------------

    def get_permissions(self, actor_id: str) -> Record:
        """``{username: level}`` for the actor."""
        return self._result("GET", f"/actors/{seg(actor_id)}/permissions")

    def update_permissions(self, actor_id: str, user: str, level: str) -> Record:
        """Grant ``level`` (NONE, READ, EXECUTE, UPDATE) to ``user``; ``ABACO_WORLD`` shares with everyone."""
        return self._result("POST", f"/actors/{seg(actor_id)}/permissions",
                            json_body={"user": user, "level": level.upper()})

    # --- nonces -----------------------------------------------------------------------------------------

    def list_nonces(self, actor_id: str) -> list[Nonce]:
        return self._result("GET", f"/actors/{seg(actor_id)}/nonces", Nonce)

    def create_nonce(self, actor_id: str, level: str = "EXECUTE", max_uses: int = -1,
                     description: str = "") -> Nonce:
        """A nonce: a revocable key that lets a caller without an account use this actor (``?x-nonce=``)."""
        return self._result("POST", f"/actors/{seg(actor_id)}/nonces", Nonce,
                            json_body=_nonce_body(level, max_uses, description))

    def get_nonce(self, actor_id: str, nonce_id: str) -> Nonce:
        return self._result("GET", f"/actors/{seg(actor_id)}/nonces/{seg(nonce_id)}", Nonce)

    def delete_nonce(self, actor_id: str, nonce_id: str) -> str:
        return self._call("DELETE", f"/actors/{seg(actor_id)}/nonces/{seg(nonce_id)}").message

    # --- aliases ----------------------------------------------------------------------------------------

    def list_aliases(self) -> list[Alias]:
        return self._result("GET", "/actors/aliases", Alias)

    def create_alias(self, alias: str, actor_id: str) -> Alias:
        return self._result("POST", "/actors/aliases", Alias, json_body={"alias": alias, "actor_id": actor_id})

    def get_alias(self, alias: str) -> Alias:
        return self._result("GET", f"/actors/aliases/{seg(alias)}", Alias)

    def update_actor_alias(self, alias: str, actor_id: str) -> Alias:
        """Point an existing alias at another actor (the alias name never changes)."""
        return self._result("PUT", f"/actors/aliases/{seg(alias)}", Alias,
                            json_body={"alias": alias, "actor_id": actor_id})

    update_alias = update_actor_alias

    def delete_alias(self, alias: str) -> str:
        return self._call("DELETE", f"/actors/aliases/{seg(alias)}").message

    def get_alias_permissions(self, alias: str) -> Record:
        return self._result("GET", f"/actors/aliases/{seg(alias)}/permissions")

    def update_alias_permissions(self, alias: str, user: str, level: str) -> Record:
        return self._result("POST", f"/actors/aliases/{seg(alias)}/permissions",
                            json_body={"user": user, "level": level.upper()})

    def list_alias_nonces(self, alias: str) -> list[Nonce]:
        return self._result("GET", f"/actors/aliases/{seg(alias)}/nonces", Nonce)

    def create_alias_nonce(self, alias: str, level: str = "EXECUTE", max_uses: int = -1,
                           description: str = "") -> Nonce:
        return self._result("POST", f"/actors/aliases/{seg(alias)}/nonces", Nonce,
                            json_body=_nonce_body(level, max_uses, description))

    def get_alias_nonce(self, alias: str, nonce_id: str) -> Nonce:
        return self._result("GET", f"/actors/aliases/{seg(alias)}/nonces/{seg(nonce_id)}", Nonce)

    def delete_alias_nonce(self, alias: str, nonce_id: str) -> str:
        return self._call("DELETE", f"/actors/aliases/{seg(alias)}/nonces/{seg(nonce_id)}").message

    # --- configs ----------------------------------------------------------------------------------------

    def list_configs(self) -> list[Config]:
        return self._result("GET", "/actors/configs", Config)

    def create_config(self, name: str, value: Any, actors: str | list[str], is_secret: bool = False) -> Config:
        """A config (or secret) delivered to the listed actors/aliases in ``_actor_configs``."""
        return self._result("POST", "/actors/configs", Config, json_body=_config_body(name, value, actors, is_secret))

    def get_config(self, config_name: str) -> Config:
        return self._result("GET", f"/actors/configs/{seg(config_name)}", Config)

    def update_config(self, config_name: str, value: Any, actors: str | list[str], is_secret: bool = False) -> Config:
        return self._result("PUT", f"/actors/configs/{seg(config_name)}", Config,
                            json_body=_config_body(config_name, value, actors, is_secret))

    def delete_config(self, config_name: str) -> str:
        return self._call("DELETE", f"/actors/configs/{seg(config_name)}").message

    def get_config_permissions(self, config_name: str) -> Record:
        return self._result("GET", f"/actors/configs/{seg(config_name)}/permissions")

    def update_config_permissions(self, config_name: str, user: str, level: str) -> Record:
        return self._result("POST", f"/actors/configs/{seg(config_name)}/permissions",
                            json_body={"user": user, "level": level.upper()})

    # --- search -----------------------------------------------------------------------------------------

    def search_database(self, search_type: str, skip: int = 0, limit: int = SEARCH_PAGE,
                        filters: Mapping[str, Any] | None = None, cursor: str | None = None,
                        **more: Any) -> Record:
        """One page of ``/actors/search/{type}``: ``{_metadata, search}``. Filters are Abaco's
        (``{"status": "READY"}``, ``{"runtime.gt": 2}``, ``{"search": "text"}``); in keyword form write
        ``runtime__gt=2``. ``cursor`` is a previous page's ``_metadata.next_cursor``."""
        if search_type not in SEARCH_KINDS:
            raise ValueError(f"search type must be one of {', '.join(SEARCH_KINDS)}")
        params = {**dict(filters or {}), **{k.replace("__", "."): v for k, v in more.items()},
                  "skip": skip, "limit": limit, **({"cursor": cursor} if cursor else {})}
        return self._result("GET", f"/actors/search/{search_type}", params=params)

    def search(self, search_type: str, filters: Mapping[str, Any] | None = None, page_size: int = SEARCH_PAGE,
               **more: Any) -> Iterator[Record]:
        """Every match, fetching page after page: by ``_metadata.next_cursor`` until it is null (a page may
        be empty on the way: the server reads a bounded window per request), or, from a server without
        cursors (Abaco), by ``skip``/``limit`` until the total is reached."""
        skip, cursor = 0, None
        while True:
            page = self.search_database(search_type, skip, page_size, filters, cursor=cursor, **more)
            items = page.get("search") or []
            yield from (wrap(item) for item in items)
            meta = page.get("_metadata") or {}
            if "next_cursor" in meta or "nextCursor" in meta:
                cursor = meta.get("next_cursor", meta.get("nextCursor"))
                if not cursor:
                    return
                continue
            total = meta.get("total_count", meta.get("totalCount"))
            skip += len(items)
            if not items or len(items) < page_size or (total is not None and skip >= int(total)):
                return


def _nonce_body(level: str, max_uses: int, description: str) -> dict[str, Any]:
    if level.upper() not in NONCE_LEVELS:
        raise ValueError(f"level must be one of {', '.join(NONCE_LEVELS)}")
    return {"level": level.upper(), "max_uses": max_uses, "description": description}


def _config_body(name: str, value: Any, actors: str | list[str], is_secret: bool) -> dict[str, Any]:
    actors_text = actors if isinstance(actors, str) else ",".join(actors)
    return {"name": name, "value": value, "is_secret": is_secret, "actors": actors_text}
