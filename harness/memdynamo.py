"""An in-memory DynamoDB with the semantics the operator relies on, for the fault simulation (and any test that
wants DynamoDB without HTTP): the same low-level client calls as aioboto3's, the same answers and errors.

Why not moto: a simulation trial makes thousands of calls; moto over HTTP costs milliseconds each, this costs
tens of microseconds. Why it can be trusted: `tests/store` runs the store's contract against both (the
`dynamodb` fixture is parametrized), so a difference in behaviour the operator can notice fails there.

Modelled: items keyed by PK/SK, strongly consistent reads; condition expressions (comparisons, AND/OR/NOT,
attribute_exists/not_exists, begins_with) and update expressions (SET with `+`/`-` and if_not_exists,
REMOVE) with name and value placeholders; ReturnValues ALL_NEW/ALL_OLD and ReturnValuesOnConditionCheckFailure;
queries on the table and on GSI1 (eventually consistent reads refused there, as DynamoDB does), in order,
with Limit and paging; TransactWriteItems, all or nothing, with per-action cancellation reasons; and
ClientRequestToken idempotency for 10 minutes (a retried transaction is answered "done" without being
applied again, even if the data changed since: what real DynamoDB does, and what moto does not). Every
request is atomic: nothing awaits inside one.

MRSC (`MemoryDynamoDB(clock, mrsc=MRSC(...))`): the table as a global table with multi-Region strong
consistency: one linearizable store (this one) behind one endpoint per replica Region (`client(region)`); its
DescribeTable says `MultiRegionConsistency: STRONG` and lists the replicas; with `refuse_transactions` (what a
real MRSC table does), TransactWriteItems and TransactGetItems answer ValidationException. Latency, lost Regions
and replicated write conflicts are the network's (`harness.simulation.network`), not the store's.

Faults are not this module's business: `harness.simulation` wraps the client to inject them.
"""

from __future__ import annotations

import functools
import json
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from botocore.exceptions import ClientError

from harness.copying import deep_copy

Item = dict[str, dict[str, Any]]

IDEMPOTENCY_SECONDS = 600.0
_TOKEN = re.compile(r"\s*(#[A-Za-z0-9_]+|:[A-Za-z0-9_]+|[A-Za-z_][A-Za-z0-9_]*|<>|<=|>=|[=<>(),+\-.])")


def _error(code: str, message: str, operation: str, **extra: Any) -> ClientError:
    response: dict[str, Any] = {
        "Error": {"Code": code, "Message": message},
        "ResponseMetadata": {"HTTPStatusCode": 400},
        **extra,
    }
    return ClientError(response, operation)  # type: ignore[arg-type]


# --- expressions ------------------------------------------------------------------------------------------


@functools.lru_cache(maxsize=1024)
def _tokens(text: str) -> tuple[str, ...]:
    out, pos = [], 0
    while pos < len(text):
        if text[pos:].strip() == "":
            break
        match = _TOKEN.match(text, pos)
        if match is None:
            raise ValueError(f"cannot parse expression at {text[pos:]!r}")
        out.append(match.group(1))
        pos = match.end()
    return tuple(out)


Values = dict[str, Any]
Check = Callable[[Item, Values], bool]
Operand = Callable[[Item, Values], Any]


class _Parser:
    """Recursive descent over one expression, compiled to functions of (item, the request's values): a parse
    depends only on the text and the names, so it is cached (every heartbeat sends the same expressions)."""

    def __init__(self, text: str, names: dict[str, str]) -> None:
        self.tokens = _tokens(text)
        self.pos = 0
        self.names = names

    def peek(self) -> str | None:
        return self.tokens[self.pos] if self.pos < len(self.tokens) else None

    def take(self, expected: str | None = None) -> str:
        token = self.peek()
        if token is None or (expected is not None and token.upper() != expected.upper()):
            raise ValueError(f"expected {expected or 'a token'}, got {token!r} in {' '.join(self.tokens)!r}")
        self.pos += 1
        return token

    def keyword(self, word: str) -> bool:
        token = self.peek()
        if token is not None and token.upper() == word:
            self.pos += 1
            return True
        return False

    def name(self, token: str) -> str:
        if token.startswith("#"):
            if token not in self.names:
                raise ValueError(f"undefined attribute name placeholder {token}")
            return self.names[token]
        return token

    def path(self, token: str) -> tuple[str, ...]:
        """`#a.#b` (a map's member) as ("a", "b")."""
        parts = [self.name(token)]
        while self.peek() == ".":
            self.take(".")
            parts.append(self.name(self.take()))
        return tuple(parts)

    # condition := or
    def condition(self) -> Check:
        left = self.conjunction()
        while self.keyword("OR"):
            right = self.conjunction()
            left = (lambda a, b: lambda item, v: a(item, v) or b(item, v))(left, right)
        return left

    def conjunction(self) -> Check:
        left = self.negation()
        while self.keyword("AND"):
            right = self.negation()
            left = (lambda a, b: lambda item, v: a(item, v) and b(item, v))(left, right)
        return left

    def negation(self) -> Check:
        if self.keyword("NOT"):
            inner = self.negation()
            return lambda item, v: not inner(item, v)
        return self.primary()

    def primary(self) -> Check:
        token = self.peek()
        if token == "(":
            self.take("(")
            inner = self.condition()
            self.take(")")
            return inner
        if token is not None and token.lower() in ("attribute_exists", "attribute_not_exists", "begins_with"):
            function = self.take().lower()
            self.take("(")
            path = self.path(self.take())
            if function == "begins_with":
                self.take(",")
                prefix = self.operand()
                self.take(")")
                return lambda item, v: _begins_with(_resolve(item, path), prefix(item, v))
            self.take(")")
            if function == "attribute_exists":
                return lambda item, v: _resolve(item, path) is not None
            return lambda item, v: _resolve(item, path) is None
        left = self.operand()
        op = self.take()
        if op not in ("=", "<>", "<", ">", "<=", ">="):
            raise ValueError(f"unsupported comparison {op!r}")
        right = self.operand()
        return lambda item, v: _compare(left(item, v), op, right(item, v))

    def operand(self) -> Operand:
        token = self.take()
        if token.startswith(":"):
            return lambda item, v: v[token]
        if token.lower() == "if_not_exists":
            self.take("(")
            name = self.name(self.take())
            self.take(",")
            default = self.operand()
            self.take(")")
            return lambda item, v: item[name] if name in item else default(item, v)
        path = self.path(token)
        return lambda item, v: _resolve(item, path)

    def value(self) -> Operand:
        """An update's right-hand side: operand [(+|-) operand]."""
        left = self.operand()
        token = self.peek()
        if token in ("+", "-"):
            self.take()
            right = self.operand()
            sign = 1 if token == "+" else -1
            return lambda item, v: _arith(left(item, v), right(item, v), sign)
        return left

    def update(self) -> list[tuple[str, tuple[str, ...], Operand | None]]:
        actions: list[tuple[str, tuple[str, ...], Operand | None]] = []
        clause = None
        while self.peek() is not None:
            if self.peek().upper() in ("SET", "REMOVE"):  # type: ignore[union-attr]
                clause = self.take().upper()
            elif self.peek() == ",":
                self.take(",")
            if clause == "SET":
                path = self.path(self.take())
                self.take("=")
                actions.append(("SET", path, self.value()))
            elif clause == "REMOVE":
                actions.append(("REMOVE", self.path(self.take()), None))
            else:
                raise ValueError("an update expression starts with SET or REMOVE")
        return actions


@functools.lru_cache(maxsize=1024)
def _compiled_condition(text: str, names: tuple[tuple[str, str], ...]) -> Check:
    parser = _Parser(text, dict(names))
    check = parser.condition()
    if parser.peek() is not None:
        raise ValueError(f"unexpected {parser.peek()!r} in {text!r}")
    return check


@functools.lru_cache(maxsize=1024)
def _compiled_update(
    text: str, names: tuple[tuple[str, str], ...]
) -> list[tuple[str, tuple[str, ...], Operand | None]]:
    return _Parser(text, dict(names)).update()


def _defined(text: str, values: Values) -> None:
    """Every value placeholder the expression uses is in the request (as DynamoDB checks before anything)."""
    for token in _tokens(text):
        if token.startswith(":") and token not in values:
            raise ValueError(f"undefined attribute value placeholder {token}")


def _resolve(item: Item, path: tuple[str, ...]) -> Any:
    """The attribute at `path` (through maps), or None."""
    value: Any = item.get(path[0])
    for part in path[1:]:
        if not isinstance(value, dict) or "M" not in value:
            return None
        value = value["M"].get(part)
    return value


def _number(value: dict[str, Any]) -> Decimal:
    return Decimal(value["N"])


def _compare(left: Any, op: str, right: Any) -> bool:
    if left is None or right is None:
        return op == "<>" and (left is None) != (right is None)
    (ltype, lvalue), (rtype, rvalue) = next(iter(left.items())), next(iter(right.items()))
    if ltype != rtype:
        return op == "<>"
    if ltype == "N":
        a, b = Decimal(lvalue), Decimal(rvalue)
    else:
        a, b = lvalue, rvalue
    if op == "=":
        return bool(a == b)
    if op == "<>":
        return bool(a != b)
    if ltype not in ("N", "S", "B"):
        return False
    return bool({"<": a < b, ">": a > b, "<=": a <= b, ">=": a >= b}[op])


def _begins_with(value: Any, prefix: Any) -> bool:
    return value is not None and "S" in value and str(value["S"]).startswith(str(prefix["S"]))


def _arith(left: Any, right: Any, sign: int) -> dict[str, str]:
    if left is None or "N" not in left or "N" not in right:
        raise ValueError("an operand in the update expression has an incorrect data type")
    return {"N": str(_number(left) + sign * _number(right))}


def _check_placeholders(params: dict[str, Any], operation: str) -> None:
    """DynamoDB refuses a request whose name or value placeholders are not all used by its expressions."""
    text = " ".join(
        str(params.get(k) or "")
        for k in (
            "ConditionExpression",
            "UpdateExpression",
            "KeyConditionExpression",
            "FilterExpression",
            "ProjectionExpression",
        )
    )
    used = set(_tokens(text)) if text.strip() else set()
    for field_, kind in (
        ("ExpressionAttributeNames", "ExpressionAttributeNames"),
        ("ExpressionAttributeValues", "ExpressionAttributeValues"),
    ):
        unused = set(params.get(field_) or {}) - used
        if unused:
            raise _error(
                "ValidationException",
                f"Value provided in {kind} unused in expressions: keys: {{{', '.join(sorted(unused))}}}",
                operation,
            )


def _condition(params: dict[str, Any], key: str = "ConditionExpression") -> Callable[[Item], bool] | None:
    text = params.get(key)
    if not text:
        return None
    values: Values = params.get("ExpressionAttributeValues", {})
    _defined(text, values)
    check = _compiled_condition(text, tuple(sorted((params.get("ExpressionAttributeNames") or {}).items())))
    return lambda item: check(item, values)


_EQUALS = re.compile(r"([#\w]+)\s*=\s*(:\w+)")


# --- the table --------------------------------------------------------------------------------------------


@dataclass
class _Table:
    name: str
    definition: dict[str, Any]
    items: dict[tuple[str, str], Item] = field(default_factory=dict)
    partitions: dict[str, dict[tuple[str, str], Item]] = field(default_factory=dict)
    """The same items by hash key: a query of one partition reads that partition, not the whole table."""

    def candidates(self, params: dict[str, Any]) -> Iterable[Item]:
        """The items a base-table query can match: its partition's, when the condition names one."""
        names = params.get("ExpressionAttributeNames") or {}
        values = params.get("ExpressionAttributeValues") or {}
        for name, placeholder in _EQUALS.findall(params.get("KeyConditionExpression", "")):
            if names.get(name, name) == self.hash_key and "S" in values.get(placeholder, {}):
                return self.partitions.get(values[placeholder]["S"], {}).values()
        return self.items.values()

    @property
    def hash_key(self) -> str:
        return str(self.definition["KeySchema"][0]["AttributeName"])

    @property
    def range_key(self) -> str:
        return str(self.definition["KeySchema"][1]["AttributeName"])

    def key_of(self, key: Item) -> tuple[str, str]:
        try:
            return str(key[self.hash_key]["S"]), str(key[self.range_key]["S"])
        except KeyError:
            raise _error("ValidationException", "The provided key element does not match the schema", "Key") from None

    def index(self, name: str) -> tuple[str, str]:
        for gsi in self.definition.get("GlobalSecondaryIndexes") or []:
            if gsi["IndexName"] == name:
                schema = gsi["KeySchema"]
                return str(schema[0]["AttributeName"]), str(schema[1]["AttributeName"])
        raise _error("ValidationException", f"The table does not have the specified index: {name}", "Query")


DEFAULT_REGION = "us-east-1"
MRSC_REGIONS = ("us-east-1", "us-east-2", "us-west-2")
MRSC_TRANSACTIONS_REFUSED = (
    "Transactions are not supported for global tables configured with multi-Region strong consistency (MRSC)"
)
"""What an MRSC table answers a TransactWriteItems or TransactGetItems with (a ValidationException)."""


@dataclass(frozen=True)
class MRSC:
    """The table is an MRSC global table: three replica Regions, or two and a witness (which serves no
    requests), in one Region set. `refuse_transactions`: TransactWriteItems / TransactGetItems answer
    ValidationException, as on a real MRSC table; off, they work as on a single-Region table (for a protocol
    that still sends them)."""

    regions: tuple[str, ...] = MRSC_REGIONS
    witness: str | None = None
    refuse_transactions: bool = True

    def __post_init__(self) -> None:
        object.__setattr__(self, "regions", tuple(self.regions))
        places = [*self.regions, *([self.witness] if self.witness else [])]
        if len(places) != 3 or len(set(places)) != 3:
            raise ValueError(
                f"an MRSC global table has three Regions (three replicas, or two and a witness), not {places}"
            )


class MemoryDynamoDB:
    """The shared state: tables and the idempotency cache; `client()` hands out clients on it (`client(region)`:
    through that replica Region's endpoint, for an MRSC table)."""

    def __init__(self, clock: Callable[[], float], *, mrsc: MRSC | None = None) -> None:
        self.clock = clock  # seconds, for the idempotency window (the simulation's virtual time)
        self.mrsc = mrsc
        self.tables: dict[str, _Table] = {}
        self._tokens: dict[str, tuple[float, str]] = {}
        self.requests = 0

    @property
    def regions(self) -> tuple[str, ...]:
        """The Regions with an endpoint: the replicas of an MRSC table, else the one Region."""
        return self.mrsc.regions if self.mrsc is not None else (DEFAULT_REGION,)

    def client(self, region: str | None = None) -> MemoryClient:
        if region is not None and region not in self.regions:
            raise ValueError(f"the table has no replica in {region} (replicas: {', '.join(self.regions)})")
        return MemoryClient(self, region or self.regions[0])


class MemoryClient:
    """The subset of aioboto3's DynamoDB client the operator calls. Use as `async with` or plainly. `region`: the
    Region whose endpoint it talks to."""

    def __init__(self, db: MemoryDynamoDB, region: str = DEFAULT_REGION) -> None:
        self.db = db
        self.region = region

    async def __aenter__(self) -> MemoryClient:
        return self

    async def __aexit__(self, *_: Any) -> None:
        return None

    def _table(self, name: str, operation: str) -> _Table:
        self.db.requests += 1
        table = self.db.tables.get(name)
        if table is None:
            raise _error(
                "ResourceNotFoundException", f"Requested resource not found: Table: {name} not found", operation
            )
        return table

    # --- tables -----------------------------------------------------------------------------------------

    async def create_table(self, **params: Any) -> dict[str, Any]:
        name = params["TableName"]
        if name in self.db.tables:
            raise _error("ResourceInUseException", f"Table already exists: {name}", "CreateTable")
        self.db.tables[name] = _Table(name, deep_copy(params))
        return {"TableDescription": self._describe(self.db.tables[name])}

    async def describe_table(self, TableName: str) -> dict[str, Any]:
        return {"Table": self._describe(self._table(TableName, "DescribeTable"))}

    def _describe(self, table: _Table) -> dict[str, Any]:
        definition = table.definition
        described: dict[str, Any] = {
            "TableName": table.name,
            "TableArn": f"arn:aws:dynamodb:{self.region}:123456789012:table/{table.name}",
            "TableStatus": "ACTIVE",
            "KeySchema": definition["KeySchema"],
            "AttributeDefinitions": definition.get("AttributeDefinitions", []),
            "BillingModeSummary": {"BillingMode": definition.get("BillingMode", "PROVISIONED")},
            "GlobalSecondaryIndexes": [
                {**gsi, "IndexStatus": "ACTIVE"} for gsi in definition.get("GlobalSecondaryIndexes") or []
            ],
        }
        mrsc = self.db.mrsc
        if mrsc is not None:  # as a replica Region describes a global table: the other replicas, and the witness
            described["GlobalTableVersion"] = "2019.11.21"
            described["MultiRegionConsistency"] = "STRONG"
            described["Replicas"] = [
                {"RegionName": region, "ReplicaStatus": "ACTIVE"} for region in mrsc.regions if region != self.region
            ]
            if mrsc.witness is not None:
                described["GlobalTableWitnesses"] = [{"RegionName": mrsc.witness, "WitnessStatus": "ACTIVE"}]
        return described

    def _refuse_transactions(self, operation: str) -> None:
        if self.db.mrsc is not None and self.db.mrsc.refuse_transactions:
            self.db.requests += 1
            raise _error("ValidationException", MRSC_TRANSACTIONS_REFUSED, operation)

    # --- single items -----------------------------------------------------------------------------------

    async def get_item(self, **params: Any) -> dict[str, Any]:
        table = self._table(params["TableName"], "GetItem")
        item = table.items.get(table.key_of(params["Key"]))
        return {"Item": deep_copy(item)} if item is not None else {}

    async def batch_get_item(self, **params: Any) -> dict[str, Any]:
        """Every key asked (at most 100); items not found are left out, as DynamoDB does. Never leaves keys
        unprocessed (a real table may: the store retries them)."""
        self.db.requests += 1
        requested = params["RequestItems"]
        if sum(len(spec["Keys"]) for spec in requested.values()) > 100:
            raise _error("ValidationException", "Too many items requested for the BatchGetItem call", "BatchGetItem")
        responses: dict[str, list[Item]] = {}
        for name, spec in requested.items():
            table = self._table(name, "BatchGetItem")
            found = responses.setdefault(name, [])
            for key in spec["Keys"]:
                item = table.items.get(table.key_of(key))
                if item is not None:
                    found.append(deep_copy(item))
        return {"Responses": responses, "UnprocessedKeys": {}}

    async def put_item(self, **params: Any) -> dict[str, Any]:
        table = self._table(params["TableName"], "PutItem")
        return self._apply(table, "PutItem", "Put", params)

    async def update_item(self, **params: Any) -> dict[str, Any]:
        table = self._table(params["TableName"], "UpdateItem")
        return self._apply(table, "UpdateItem", "Update", params)

    async def delete_item(self, **params: Any) -> dict[str, Any]:
        table = self._table(params["TableName"], "DeleteItem")
        return self._apply(table, "DeleteItem", "Delete", params)

    def _apply(self, table: _Table, operation: str, action: str, params: dict[str, Any]) -> dict[str, Any]:
        _check_placeholders(params, operation)
        key = table.key_of(params["Item"] if action == "Put" else params["Key"])
        old = table.items.get(key)
        check = _condition(params)
        if check is not None and not check(old or {}):
            extra = {}
            if params.get("ReturnValuesOnConditionCheckFailure") == "ALL_OLD" and old is not None:
                extra["Item"] = deep_copy(old)
            raise _error("ConditionalCheckFailedException", "The conditional request failed", operation, **extra)
        new = self._change(table, key, old, action, params)
        self._store(table, key, new)
        returns = params.get("ReturnValues", "NONE")
        if returns == "ALL_NEW" and new is not None:
            return {"Attributes": deep_copy(new)}
        if returns == "ALL_OLD" and old is not None:
            return {"Attributes": deep_copy(old)}
        return {}

    @staticmethod
    def _change(
        table: _Table, key: tuple[str, str], old: Item | None, action: str, params: dict[str, Any]
    ) -> Item | None:
        """The item an action would leave (None: deleted), without storing it."""
        if action == "Put":
            return deep_copy(params["Item"])
        if action == "Delete":
            return None
        text = params["UpdateExpression"]
        values: Values = params.get("ExpressionAttributeValues", {})
        _defined(text, values)
        actions = _compiled_update(text, tuple(sorted((params.get("ExpressionAttributeNames") or {}).items())))
        new = (
            deep_copy(old)
            if old is not None
            else {
                table.hash_key: {"S": key[0]},
                table.range_key: {"S": key[1]},
            }
        )
        before = deep_copy(new)
        for kind, path, value in actions:
            if path[0] in (table.hash_key, table.range_key):
                raise _error(
                    "ValidationException", f"Cannot update attribute {path[0]}: it is part of the key", "Update"
                )
            parent: dict[str, Any] | None = new
            for part in path[:-1]:  # a member of a map: the map must be there (as in DynamoDB)
                member = parent.get(part) if parent is not None else None
                parent = member.get("M") if isinstance(member, dict) else None
            if kind == "SET":
                assert value is not None
                if parent is None:
                    raise _error(
                        "ValidationException",
                        "The document path provided in the update expression is invalid for update",
                        "UpdateItem",
                    )
                try:
                    parent[path[-1]] = deep_copy(value(before, values))
                except ValueError as exc:
                    raise _error("ValidationException", str(exc), "UpdateItem") from None
            elif parent is not None:
                parent.pop(path[-1], None)
        return new

    def _store(self, table: _Table, key: tuple[str, str], item: Item | None) -> None:
        if item is None:
            table.items.pop(key, None)
            partition = table.partitions.get(key[0])
            if partition is not None:
                partition.pop(key, None)
                if not partition:
                    del table.partitions[key[0]]
        else:
            table.items[key] = item
            table.partitions.setdefault(key[0], {})[key] = item

    # --- queries ----------------------------------------------------------------------------------------

    async def query(self, **params: Any) -> dict[str, Any]:
        table = self._table(params["TableName"], "Query")
        index = params.get("IndexName")
        if index is not None:
            if params.get("ConsistentRead"):
                raise _error(
                    "ValidationException", "Consistent reads are not supported on global secondary indexes", "Query"
                )
            hash_key, range_key = table.index(index)
        else:
            hash_key, range_key = table.hash_key, table.range_key
        _check_placeholders(params, "Query")
        condition = _condition(params, "KeyConditionExpression")
        assert condition is not None, "a query needs a KeyConditionExpression"
        filtered = _condition(params, "FilterExpression")
        candidates = table.items.values() if index is not None else table.candidates(params)
        found = [
            item
            for item in candidates
            if hash_key in item and range_key in item and condition(item) and (filtered is None or filtered(item))
        ]
        found.sort(key=lambda item: (item[range_key]["S"], item[table.hash_key]["S"], item[table.range_key]["S"]))
        if params.get("ScanIndexForward") is False:
            found.reverse()
        start = params.get("ExclusiveStartKey")
        if start is not None:
            position = next(
                (i for i, item in enumerate(found) if all(item.get(k) == v for k, v in start.items())), None
            )
            found = found[position + 1 :] if position is not None else found
        limit = params.get("Limit")
        result: dict[str, Any] = {}
        if limit is not None and len(found) > limit:
            found = found[:limit]
            last = found[-1]
            keys_ = {table.hash_key, table.range_key, hash_key, range_key}
            result["LastEvaluatedKey"] = {k: deep_copy(last[k]) for k in keys_}
        result.update(Items=deep_copy(found), Count=len(found), ScannedCount=len(found))
        return result

    # --- transactions -----------------------------------------------------------------------------------

    async def transact_get_items(self, **params: Any) -> dict[str, Any]:
        """Every item asked, read at one instant (at most 100; no projection)."""
        self._refuse_transactions("TransactGetItems")
        self.db.requests += 1
        actions = params["TransactItems"]
        if len(actions) > 100:
            raise _error("ValidationException", "Too many items in the TransactGetItems request", "TransactGetItems")
        responses: list[dict[str, Any]] = []
        for entry in actions:
            body = entry["Get"]
            table = self.db.tables.get(body["TableName"])
            if table is None:
                raise _error("ResourceNotFoundException", "Requested resource not found", "TransactGetItems")
            item = table.items.get(table.key_of(body["Key"]))
            responses.append({"Item": deep_copy(item)} if item is not None else {})
        return {"Responses": responses}

    async def transact_write_items(self, **params: Any) -> dict[str, Any]:
        self._refuse_transactions("TransactWriteItems")
        self.db.requests += 1
        actions = params["TransactItems"]
        token = params.get("ClientRequestToken")
        fingerprint = json.dumps(actions, sort_keys=True, default=str)
        now = self.db.clock()
        if token is not None:
            cached = self.db._tokens.get(token)
            if cached is not None and now - cached[0] < IDEMPOTENCY_SECONDS:
                if cached[1] != fingerprint:
                    raise _error(
                        "IdempotentParameterMismatchException",
                        "The request uses the same client token as a previous, but non-identical request.",
                        "TransactWriteItems",
                    )
                return {}  # answered from the cache: applied once, long ago perhaps, whatever happened since
        planned: list[tuple[_Table, tuple[str, str], Item | None]] = []
        reasons: list[dict[str, Any]] = []
        failed = False
        seen: set[tuple[str, tuple[str, str]]] = set()
        for entry in actions:
            ((action, body),) = entry.items()
            _check_placeholders(body, "TransactWriteItems")
            table = self.db.tables.get(body["TableName"])
            if table is None:
                raise _error("ResourceNotFoundException", "Requested resource not found", "TransactWriteItems")
            key = table.key_of(body["Item"] if action == "Put" else body["Key"])
            if (table.name, key) in seen:
                raise _error(
                    "ValidationException",
                    "Transaction request cannot include multiple operations on one item",
                    "TransactWriteItems",
                )
            seen.add((table.name, key))
            old = table.items.get(key)
            check = _condition(body)
            if check is not None and not check(old or {}):
                failed = True
                reason: dict[str, Any] = {"Code": "ConditionalCheckFailed", "Message": "The conditional request failed"}
                if body.get("ReturnValuesOnConditionCheckFailure") == "ALL_OLD" and old is not None:
                    reason["Item"] = deep_copy(old)
                reasons.append(reason)
                continue
            reasons.append({"Code": "None"})
            if action != "ConditionCheck":
                planned.append((table, key, self._change(table, key, old, action, body)))
        if failed:
            codes = ", ".join(r["Code"] for r in reasons)
            raise _error(
                "TransactionCanceledException",
                f"Transaction cancelled, please refer cancellation reasons for specific reasons [{codes}]",
                "TransactWriteItems",
                CancellationReasons=reasons,
            )
        for table, key, item in planned:
            self._store(table, key, item)
        if token is not None:
            self.db._tokens[token] = (now, fingerprint)
        return {}
