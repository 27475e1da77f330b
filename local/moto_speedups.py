"""Less work per DynamoDB request in the emulator, with the same answers (``local/moto_app.py`` installs these).

Profiles of one warm execution (``python -m bench.hotpath``; ``bench/results/profiles/``) put most of the
emulator's CPU in three places of moto's own code, none of which the local mode needs:
- **Query read the whole table and sorted it.** ``Table.query`` takes its candidates from ``all_items()``,
  which lists every item of every partition and sorts them by key (DynamoType comparisons), and then keeps
  those of the one partition asked for (or, on an index, sorts them again by the index's keys). The
  runner's duties query the open-executions index every 2 s, shard by shard, so the emulator re-sorted the
  executions table 8 times a pass, more as it grew. Here a query on the table reads its one partition, and
  a query on an index reads every item once, unsorted: both orders were thrown away by moto's own sort
  (on the range key; on the index's keys and then the table's, a total order).
- **The update-expression validator walked the tree quadratically.** Its action counter runs on every
  ``UpdateExpression`` node, and each run collects every clause under it again; a ``SET`` of 8 fields
  (a claim, a terminal write) made it about 120 walks. One count at the root sees every clause the nested
  ones see. Every tree walker also rebuilt its map of node types to handlers at each node: built once per
  walker now. And each expression is parsed once, not on every write.
- **Random strings were drawn a character at a time** (``random.choice`` 52 times per request id, more for
  SQS receipt handles): one ``choices`` call draws them all, from the same pool.
"""
from __future__ import annotations

import functools
from typing import Any


def install_fast_queries() -> None:
    """``Table.query`` without the whole-table sort (idempotent)."""
    from moto.dynamodb.models.table import Table

    original = Table.query
    if getattr(original, "abaco_fast", False):
        return

    def query(self: Any, hash_key: Any, *args: Any, **kwargs: Any) -> Any:
        index_name = args[6] if len(args) > 6 else kwargs.get("index_name")
        if index_name:
            candidates = _every_item(self)
        else:
            partition = self.items.get(hash_key) if hash_key is not None else None
            candidates = [] if partition is None else list(partition.values()) if self.range_key_attr else [partition]
        self.all_items = lambda: candidates  # this call's candidates (DynamoDB requests run one at a time)
        try:
            return original(self, hash_key, *args, **kwargs)
        finally:
            del self.all_items

    query.abaco_fast = True  # type: ignore[attr-defined]
    Table.query = query  # type: ignore[method-assign]


def _every_item(table: Any) -> list[Any]:
    if table.range_key_attr:
        return [item for partition in table.items.values() for item in partition.values()]
    return list(table.items.values())


def install_fast_update_validation() -> None:
    """The update-expression validator's walks, each done once (idempotent)."""
    from moto.dynamodb.parsing import ast_nodes, validators

    traverser = ast_nodes.DepthFirstTraverser
    if getattr(traverser.process, "abaco_fast", False):
        return

    def handlers(self: Any) -> dict[type, Any]:
        found: dict[type, Any] | None = self.__dict__.get("_abaco_handlers")
        if found is None:
            found = self.__dict__["_abaco_handlers"] = self._processing_map()
        return found

    def nodes_to_be_processed(self: Any) -> tuple[type, ...]:
        found: tuple[type, ...] | None = self.__dict__.get("_abaco_types")
        if found is None:
            found = self.__dict__["_abaco_types"] = tuple(handlers(self))
        return found

    def process(self: Any, node: Any) -> Any:
        for node_type, handler in handlers(self).items():
            if isinstance(node, node_type):
                return handler(node)
        return None

    process.abaco_fast = True  # type: ignore[attr-defined]
    traverser.nodes_to_be_processed = nodes_to_be_processed  # type: ignore[method-assign]
    traverser.process = process  # type: ignore[method-assign]

    counter = validators.ActionCountValidator
    original_traverse = counter.traverse

    def traverse(self: Any, node: Any) -> Any:
        if isinstance(node, ast_nodes.UpdateExpression):  # the root's clauses include every nested node's
            return self.verify_action_counts(node)
        return original_traverse(self, node)

    counter.traverse = traverse  # type: ignore[method-assign]

    # The parsed tree of an update expression, once per expression: our writes use a few dozen, and moto's
    # validator works on a deep copy of the tree it is given (``Validator.__init__``), never on the tree.
    from moto.dynamodb.parsing.expressions import UpdateExpressionParser

    parse = UpdateExpressionParser.make.__func__  # type: ignore[attr-defined]
    parsed = functools.lru_cache(maxsize=1024)(functools.partial(parse, UpdateExpressionParser))

    def make(cls: type, expression: str) -> Any:
        return parsed(expression) if cls is UpdateExpressionParser else parse(cls, expression)

    UpdateExpressionParser.make = classmethod(make)  # type: ignore[method-assign,assignment]


def install_fast_random_strings() -> None:
    """moto's random strings in one draw each (idempotent)."""
    import string

    from moto.moto_api._internal import moto_random

    cls = moto_random.MotoRandom
    if getattr(cls.get_random_string, "abaco_fast", False):
        return

    def get_random_string(self: Any, length: int = 20, include_digits: bool = True, lower_case: bool = False) -> str:
        pool = string.ascii_letters + (string.digits if include_digits else "")
        drawn = "".join(self.choices(pool, k=length))
        return drawn.lower() if lower_case else drawn

    def get_random_hex(self: Any, length: int = 8) -> str:
        return "".join(map(str, self.choices(moto_random.HEX_CHARS, k=length)))

    get_random_string.abaco_fast = True  # type: ignore[attr-defined]
    cls.get_random_string = get_random_string  # type: ignore[method-assign]
    cls.get_random_hex = get_random_hex  # type: ignore[method-assign]


def install_all() -> None:
    install_fast_queries()
    install_fast_update_validation()
    install_fast_random_strings()
