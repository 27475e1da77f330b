"""Less work per DynamoDB request in the emulator, with the same answers (``local/moto_app.py`` installs these).

Profiles of one warm execution (``python -m bench.hotpath``; ``bench/results/profiles/``) put most of the
emulator's CPU in three places of moto's own code, none of which the local mode needs:
- **Query read the whole table and sorted it.** ``Table.query`` takes its candidates from ``all_items()``,
  which lists every item of every partition and sorts them by key (DynamoType comparisons), and then keeps
  those of the one partition asked for (or, on an index, sorts them again by the index's keys). The
  runner's duties queried the open-executions index every 2 s, shard by shard (one Scan of it now, which
  moto answers without the table's sort), so the emulator re-sorted the executions table 8 times a pass.
  Here a query on the table reads its one partition, and a query on an index reads every item once,
  unsorted: both orders were thrown away by moto's own sort (on the range key; on the index's keys and
  then the table's, a total order).
- **The update-expression validator walked the tree quadratically.** Its action counter runs on every
  ``UpdateExpression`` node, and each run collects every clause under it again; a ``SET`` of 8 fields
  (a claim, a terminal write) made it about 120 walks. One count at the root sees every clause the nested
  ones see. Every tree walker also rebuilt its map of node types to handlers at each node: built once per
  walker now. And each expression is parsed once, not on every write.
- **Random strings were drawn a character at a time** (``random.choice`` 52 times per request id, more for
  SQS receipt handles): one ``choices`` call draws them all, from the same pool.
- **Every request was parsed and every answer written through botocore's service model** (moto 5's
  generic protocol parser and serializer: about a quarter of the emulator's CPU per DynamoDB request). In
  DynamoDB's JSON protocol the request's JSON already is what moto's parser makes of it, and the answer's
  JSON what its serializer writes, except for binary attributes (base64 on the wire, bytes inside) and
  the members an answer's shape leaves out; the same holds for SQS's JSON protocol. So the operations of
  ``FAST_OPERATIONS`` (DynamoDB's item operations, SQS's message operations) are parsed with ``json.loads``
  when the body holds no binary member, and answered with ``json.dumps`` (bytes as base64, only the members
  of the operation's output shape); errors, SQS's query protocol and everything else go through moto's own.
- **Names were converted from CamelCase on every use**: an SQS queue's ``attributes``, read on every
  SendMessage and GetQueueAttributes, converts each of its 15 names with a character loop, and every request
  converts its action's name. The conversion is a pure function of the name: cached.
"""
from __future__ import annotations

import base64
import functools
import json
import re
from typing import Any

# The operations answered as the JSON they are, per service; a request that names a binary member (or holds
# a string that looks like one) is parsed by moto, whose parser decodes the base64.
FAST_OPERATIONS = {
    "dynamodb": frozenset({"GetItem", "PutItem", "UpdateItem", "DeleteItem", "Query", "BatchGetItem"}),
    "sqs": frozenset({"SendMessage", "ReceiveMessage", "DeleteMessage", "DeleteMessageBatch", "ChangeMessageVisibility",
                      "ChangeMessageVisibilityBatch", "GetQueueAttributes", "GetQueueUrl"}),
}
_BINARY_MEMBER = {"dynamodb": re.compile(rb'"BS?"\s*:'), "sqs": re.compile(rb'"Binary(?:List)?Values?"\s*:')}
_JSON = "application/x-amz-json-1.0"


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


_CLAUSE = re.compile(r"\s*(SET|REMOVE|ADD)\s+(.+?)(?=\s+(?:SET|REMOVE|ADD)\s|\s*$)", re.DOTALL)
_SET_ACTION = re.compile(r"\s*(#?\w+)\s*=\s*(:\w+)\s*")
_ADD_ACTION = re.compile(r"\s*(#?\w+)\s+(:\w+)\s*")
_NAME = re.compile(r"\s*(#?\w+)\s*")


@functools.lru_cache(maxsize=1)
def _reserved() -> frozenset[str]:
    from moto.dynamodb.parsing.reserved_keywords import ReservedKeywords

    return frozenset(k.upper() for k in ReservedKeywords.get_reserved_keywords())


def simple_update(expression: str | None, names: dict[str, str] | None, values: dict[str, Any] | None,
                  table: Any, existing: Any) -> list[tuple[str, str, Any]] | None:
    """The actions of an update expression made only of top-level ``SET a = :v``, ``REMOVE a`` and ``ADD a
    :number`` that moto's validator would accept as they are: every placeholder defined, no key attribute,
    no attribute twice, no reserved word, no empty string, binary or set, ADD only to a number or nothing;
    else None (moto's own path then runs, with its errors). ``existing``: the item (None: there is none)."""
    if not expression:
        return None
    names, values = names or {}, values or {}
    actions: list[tuple[str, str, Any]] = []
    seen_clauses: set[str] = set()
    position = 0
    for match in _CLAUSE.finditer(expression):
        if match.start() != position or match.group(1) in seen_clauses:
            return None
        position = match.end()
        clause = match.group(1)
        seen_clauses.add(clause)
        for part in match.group(2).split(","):
            form = {"SET": _SET_ACTION, "ADD": _ADD_ACTION, "REMOVE": _NAME}[clause].fullmatch(part)
            if form is None:
                return None
            target = form.group(1)
            if target.startswith("#"):
                if target not in names:
                    return None
                target = names[target]
            elif target.upper() in _reserved():
                return None  # moto's validator names the keyword
            value = None
            if clause != "REMOVE":
                value = values.get(form.group(2))
                if not isinstance(value, dict) or len(value) != 1 or any(v in ("", b"", []) for v in value.values()):
                    return None  # moto's path decides about empty strings, binaries and sets
            actions.append((clause, target, value))
    if position != len(expression) or not actions:
        return None
    targets = [target for _, target, _ in actions]
    if len(set(targets)) != len(targets) or set(targets) & set(table.table_key_attrs):
        return None
    for clause, target, value in actions:
        if clause == "ADD":
            current = existing.attrs.get(target) if existing is not None else None
            if "N" not in value or (current is not None and current.type != "N"):
                return None
    return actions


ITEM_SIZE_LIMIT = 405_000  # moto's LimitedSizeDict (models/dynamo_type.py): what it refuses an item beyond


def install_fast_simple_updates() -> None:
    """UpdateItem of simple top-level actions (``simple_update``) without moto's validator and executor:
    the condition, the item's creation, the size limit and the answer are moto's own (idempotent)."""
    from moto.dynamodb.exceptions import ItemSizeTooLarge, ItemSizeToUpdateTooLarge
    from moto.dynamodb.models import DynamoDBBackend
    from moto.dynamodb.models.dynamo_type import DynamoType
    from moto.dynamodb.models.utilities import bytesize

    def _size(value: Any) -> int:
        """What moto's LimitedSizeDict counts for a name or a value."""
        return value.size() if type(value) is DynamoType else bytesize(str(value))

    original = DynamoDBBackend.update_item
    if getattr(original, "abaco_fast", False):
        return

    def update_item(self: Any, table_name: str, key: dict[str, Any], update_expression: str,
                    expression_attribute_names: dict[str, Any], expression_attribute_values: dict[str, Any],
                    attribute_updates: dict[str, Any] | None = None, **kwargs: Any) -> Any:
        table = self.get_table(table_name)
        actions = None
        if not attribute_updates and table.stream_shard is None:
            try:
                existing = self.get_item(table_name, key)
            except Exception:  # a key moto's own path reads differently: let it answer
                existing = actions = None
            else:
                actions = simple_update(update_expression, expression_attribute_names,
                                        expression_attribute_values, table, existing)
        if actions is None:
            return original(self, table_name, key, update_expression, expression_attribute_names,
                            expression_attribute_values, attribute_updates, **kwargs)
        # moto's own path with nothing to apply: the condition (and Expected), the new item if none
        item = original(self, table_name, key, "", expression_attribute_names, expression_attribute_values, {},
                        **kwargs)
        attrs = item.attrs
        total = sum(_size(name) + _size(held) for name, held in attrs.items())  # once, not per action
        for clause, target, value in actions:
            if clause == "REMOVE":
                if target in attrs:
                    total -= _size(target) + _size(attrs.pop(target))
                continue
            if clause == "SET":
                new = DynamoType(value)
            else:
                new = (attrs.get(target) or DynamoType({"N": "0"})) + DynamoType(value)
            if total + _size(target) + _size(new) > ITEM_SIZE_LIMIT:  # LimitedSizeDict's check, old value counted
                raise ItemSizeToUpdateTooLarge() from ItemSizeTooLarge()
            old = attrs.get(target)
            dict.__setitem__(attrs, target, new)  # the size is checked above, as LimitedSizeDict would
            total += _size(new) - (_size(old) if old is not None else -_size(target))
        return item

    update_item.abaco_fast = True  # type: ignore[attr-defined]
    DynamoDBBackend.update_item = update_item  # type: ignore[method-assign]


def install_fast_json_protocol() -> None:
    """DynamoDB's item operations and SQS's message operations (in its JSON protocol) parsed and answered
    without botocore's service model (idempotent)."""
    from moto.core.responses import ActionResult, EmptyResult
    from moto.dynamodb.responses import DynamoHandler, DynamoResult
    from moto.sqs.responses import SQSResponse

    _fast_json(DynamoHandler, "dynamodb", (ActionResult, DynamoResult))
    _fast_json(SQSResponse, "sqs", (ActionResult, EmptyResult))


def _fast_json(handler: Any, service: str, plain: tuple[type, ...]) -> None:
    if getattr(handler.serialized, "abaco_fast", False):
        return
    parse_parameters, serialized = handler.parse_parameters, handler.serialized
    operations, binary = FAST_OPERATIONS[service], _BINARY_MEMBER[service]

    def fast_parse(self: Any, request: Any) -> None:
        self.abaco_json = (request.content_type or "").startswith("application/x-amz-json")  # SQS: or query
        body = request.data
        body = body.encode() if isinstance(body, str) else body
        if self.abaco_json and self._get_action() in operations and body and not binary.search(body):
            self.params = json.loads(body)
            return
        parse_parameters(self, request)

    def fast_serialized(self: Any, action_result: Any) -> Any:
        action = self._get_action()
        result = action_result.result
        if (type(action_result) in plain and action in operations and getattr(self, "abaco_json", False)
                and (result is None or isinstance(result, dict))):  # not a paginated result, not an error
            members = _output_members(service, action)
            shown = {k: v for k, v in (result or {}).items() if k in members and v is not None}
            try:
                body = json.dumps(shown, default=_base64)
            except TypeError:  # a value only moto's serializer knows how to write
                return serialized(self, action_result)
            return 200, {"Content-Type": _JSON, **self.response_headers}, body
        return serialized(self, action_result)

    fast_serialized.abaco_fast = True  # type: ignore[attr-defined]
    handler.parse_parameters = fast_parse
    handler.serialized = fast_serialized


@functools.cache
def _output_members(service: str, action: str) -> frozenset[str]:
    from moto.core.utils import get_service_model

    shape = get_service_model(service).operation_model(action).output_shape
    return frozenset(shape.members) if shape is not None else frozenset()


def _base64(value: Any) -> str:
    if isinstance(value, (bytes, bytearray)):
        return base64.b64encode(value).decode("ascii")
    raise TypeError(f"{type(value).__name__} is not JSON")


def install_cached_name_conversion() -> None:
    """``camelcase_to_underscores`` cached, in moto's modules loaded now and those loaded later (idempotent)."""
    import sys

    from moto.core import utils

    original = utils.camelcase_to_underscores
    if getattr(original, "abaco_fast", False):
        return
    cached = functools.lru_cache(maxsize=4096)(original)
    cached.abaco_fast = True  # type: ignore[attr-defined]
    utils.camelcase_to_underscores = cached  # later ``from moto.core.utils import ...`` get this one
    for name, module in list(sys.modules.items()):
        if name.startswith("moto.") and getattr(module, "camelcase_to_underscores", None) is original:
            module.camelcase_to_underscores = cached  # type: ignore[attr-defined]


def install_all() -> None:
    install_cached_name_conversion()
    install_fast_json_protocol()
    install_fast_queries()
    install_fast_update_validation()
    install_fast_random_strings()
    install_fast_simple_updates()
