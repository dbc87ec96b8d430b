"""stripe-python's generated types as the contract for Stripe objects and requests.

The pinned SDK is generated from Stripe's OpenAPI spec: its resource classes annotate every
field of every object, its `stripe/params/*` TypedDicts list every request parameter (with
per-field limits in their docstrings), and its services name the params type of every
operation. This module reads those, and only those, so nothing outside the repository is
needed:

- `check_object(obj)`: fields the SDK does not annotate, annotated non-Optional fields that are
  missing, enum values outside the SDK's Literal (or its "Possible values are ..." docstring),
  values of the wrong JSON type; nested objects, lists, expansions and event payloads included.
- `operation_for(method, path)` / `check_request(method, path, params)`: the params TypedDict
  of an operation, then unknown parameters, missing required ones, enum values and documented
  length limits, for form-decoded values as the sandbox logs them.
"""

from __future__ import annotations

import ast
import functools
import importlib
import re
import sys
import types
import typing
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any, ForwardRef, Literal, Union

import stripe
import typing_extensions
from stripe._object_classes import OBJECT_CLASSES
from stripe._stripe_object import StripeObject

SDK_ROOT = Path(stripe.__file__).resolve().parent
_LIMIT = re.compile(
    r"(?:(?:maximum character count of|character limit is)\s*([\d,]+)"
    r"|(?:up to|at most|maximum(?: length)?(?: is)?|max length,)\s*\*?([\d,]+)\*?\s*"
    r"(?:alphanumeric\s+)?characters)",
    re.IGNORECASE,
)
_TOTAL_LIMIT = re.compile(r"combined character count of all fields is limited to ([\d,]+)")
_POSSIBLE = re.compile(r"Possible values (?:are|include)\s*:?\s*((?:`[a-z0-9_.]+`[, ]*(?:or )?)+)")


# --- reading the SDK's source (docstrings are not kept at runtime) -------------------------------
@functools.cache
def _module_ast(path: str) -> ast.Module:
    return ast.parse(Path(path).read_text())


def _class_node(cls: type) -> ast.ClassDef | None:
    module = sys.modules[cls.__module__]
    if not getattr(module, "__file__", None):
        return None
    body: list[ast.stmt] = _module_ast(str(module.__file__)).body
    node = None
    for name in cls.__qualname__.split("."):
        node = next((n for n in body if isinstance(n, ast.ClassDef) and n.name == name), None)
        if node is None:
            return None
        body = node.body
    return node


@functools.cache
def field_docs(cls: type) -> dict[str, str]:
    """The docstring under each annotated field of a class, from the SDK's source."""
    node = _class_node(cls)
    out: dict[str, str] = {}
    if node is None:
        return out
    for stmt, nxt in zip(node.body, node.body[1:], strict=False):
        if (
            isinstance(stmt, ast.AnnAssign)
            and isinstance(stmt.target, ast.Name)
            and isinstance(nxt, ast.Expr)
            and isinstance(nxt.value, ast.Constant)
            and isinstance(nxt.value.value, str)
        ):
            out[stmt.target.id] = " ".join(nxt.value.value.split())
    return out


def doc_limit(doc: str) -> int | None:
    """The per-field character limit a docstring states, if any."""
    found = [int((m.group(1) or m.group(2)).replace(",", "")) for m in _LIMIT.finditer(doc)]
    return min(found) if found else None


def doc_total_limit(doc: str) -> int | None:
    """A combined limit over every text value in a hash ("... limited to 150,000")."""
    m = _TOTAL_LIMIT.search(doc)
    return int(m.group(1).replace(",", "")) if m else None


def doc_values(doc: str) -> set[str]:
    """The values a plain `str` field documents ("Possible values are `a`, `b`, or `c`")."""
    m = _POSSIBLE.search(doc)
    return set(re.findall(r"`([a-z0-9_.]+)`", m.group(1))) if m else set()


# --- resolving annotations ------------------------------------------------------------------------
@functools.cache
def _type_checking_imports(module_name: str) -> dict[str, tuple[str, str]]:
    """`from stripe.x import Y` names imported only for type checking, by local name."""
    module = sys.modules[module_name]
    out: dict[str, tuple[str, str]] = {}
    for node in ast.walk(_module_ast(str(module.__file__))):
        if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("stripe"):
            for alias in node.names:
                out[alias.asname or alias.name] = (node.module, alias.name)
    return out


def _resolve(ref: ForwardRef | str, owner: type) -> Any:
    name = ref.__forward_arg__ if isinstance(ref, ForwardRef) else ref
    module = sys.modules[owner.__module__]
    if hasattr(module, name):
        return getattr(module, name)
    target = _type_checking_imports(owner.__module__).get(name)
    if target is None:
        raise LookupError(f"cannot resolve {name!r} in {owner.__module__}")
    return getattr(importlib.import_module(target[0]), target[1])


@functools.cache
def annotations_of(cls: type) -> dict[str, Any]:
    """Public field annotations of a resource or nested StripeObject class (ClassVars dropped)."""
    out: dict[str, Any] = {}
    for klass in reversed(cls.__mro__):
        if klass.__module__.startswith("stripe.") and klass.__module__ not in (
            "stripe._stripe_object",
            "stripe._api_resource",
        ):
            for name, ann in klass.__dict__.get("__annotations__", {}).items():
                if name.startswith("_") or typing.get_origin(ann) is typing.ClassVar:
                    continue
                out[name] = ann
    remap = getattr(cls, "_field_remappings", {}) or {}
    return {remap.get(k, k): v for k, v in out.items()}


@functools.cache
def class_for_object(name: str) -> type | None:
    """The SDK's class for an `object` value ("dispute" -> stripe.Dispute)."""
    entry = OBJECT_CLASSES.get(name)
    if entry is None:
        return None
    return getattr(importlib.import_module(entry[0]), entry[1])


def _is_optional(ann: Any) -> bool:
    return typing.get_origin(ann) in (Union, types.UnionType) and type(None) in typing.get_args(ann)


# --- objects --------------------------------------------------------------------------------------
def check_object(obj: dict[str, Any], cls: type | None = None, path: str = "") -> list[str]:
    """Every way `obj` departs from the SDK's annotations, as readable lines (empty = conforms)."""
    if cls is None:
        cls = class_for_object(str(obj.get("object")))
        if cls is None:
            return [f"{path or '<root>'}: object type {obj.get('object')!r} unknown to the SDK"]
    fields = annotations_of(cls)
    docs = field_docs(cls)
    where = path or str(obj.get("object", cls.__name__))
    problems = [f"{where}.{k}: field not in {cls.__qualname__}" for k in obj if k not in fields]
    for name, ann in fields.items():
        if name not in obj:
            if not _is_optional(ann):
                problems.append(f"{where}.{name}: required by {cls.__qualname__} but missing")
            continue
        problems += _check_value(obj[name], ann, cls, f"{where}.{name}", docs.get(name, ""))
    return problems


def _check_value(value: Any, ann: Any, owner: type, path: str, doc: str) -> list[str]:
    if isinstance(ann, ForwardRef | str):
        ann = _resolve(ann, owner)
    if ann is Any:
        return []
    origin = typing.get_origin(ann)
    args = typing.get_args(ann)
    if origin in (Union, types.UnionType):
        if value is None:
            return [] if type(None) in args else [f"{path}: null where the SDK expects {ann}"]
        arms = [a for a in args if a is not type(None)]
        # A plain `str` arm beside a Literal only means "values added later": the known set counts.
        literal_arms = [a for a in arms if typing.get_origin(a) is Literal]
        if literal_arms and isinstance(value, str):
            known = {v for a in literal_arms for v in typing.get_args(a)}
            return [] if value in known else [f"{path}: {value!r} not one of {sorted(known)}"]
        results = [_check_value(value, a, owner, path, doc) for a in arms]
        if any(not r for r in results):
            return []
        return min(results, key=len)
    if value is None:
        return [f"{path}: null where the SDK expects non-null {ann}"]
    if origin is Literal:
        return [] if value in args else [f"{path}: {value!r} not one of {sorted(map(str, args))}"]
    if origin in (list, typing.List):  # noqa: UP006 - the SDK spells it typing.List
        if not isinstance(value, list):
            return [f"{path}: expected a list, got {type(value).__name__}"]
        out: list[str] = []
        for i, item in enumerate(value[:20]):
            out += _check_value(item, args[0], owner, f"{path}[{i}]", "")
        return out
    if origin in (dict, typing.Dict):  # noqa: UP006
        return [] if isinstance(value, dict) else [f"{path}: expected a hash"]
    if isinstance(ann, type) and issubclass(ann, StripeObject) or isinstance(origin, type):
        target = origin if isinstance(origin, type) else ann
        return _check_stripe_object(value, target, args, owner, path)
    if ann is str:
        if not isinstance(value, str):
            return [f"{path}: expected a string, got {type(value).__name__}"]
        allowed = doc_values(doc)
        if allowed and value not in allowed:
            return [f"{path}: {value!r} not among the documented values {sorted(allowed)}"]
        return []
    if ann is bool:
        return [] if isinstance(value, bool) else [f"{path}: expected a boolean"]
    if ann is int:
        ok = isinstance(value, int) and not isinstance(value, bool)
        return [] if ok else [f"{path}: expected an integer, got {value!r}"]
    if ann is float:
        ok = isinstance(value, int | float) and not isinstance(value, bool)
        return [] if ok else [f"{path}: expected a number"]
    if ann is Decimal:
        return [] if isinstance(value, str | int | float) else [f"{path}: expected a decimal"]
    return []


def _check_stripe_object(
    value: Any, target: type, args: tuple[Any, ...], owner: type, path: str
) -> list[str]:
    if not isinstance(value, dict):
        return [f"{path}: expected a {target.__name__} hash, got {type(value).__name__}"]
    if target.__name__ == "ListObject":
        if value.get("object") != "list" or not isinstance(value.get("data"), list):
            return [f"{path}: expected a list object"]
        extra = set(value) - {"object", "data", "has_more", "url", "total_count"}
        out = [f"{path}.{k}: field not in a list object" for k in sorted(extra)]
        item = args[0] if args else Any
        for i, entry in enumerate(value["data"][:20]):
            out += _check_value(entry, item, owner, f"{path}.data[{i}]", "")
        return out
    if target.__name__ == "UntypedStripeObject" or not issubclass(target, StripeObject):
        return []
    return check_object(value, target, path)


def check_event(event: dict[str, Any]) -> list[str]:
    """An event and the object it carries, each against its own SDK class."""
    problems = check_object(event)
    data = event.get("data") or {}
    inner = data.get("object")
    if isinstance(inner, dict):
        problems += check_object(inner, path=f"event[{event.get('type')}].data.object")
        for key in data.get("previous_attributes") or {}:
            cls = class_for_object(str(inner.get("object")))
            if cls is not None and key not in annotations_of(cls):
                problems.append(f"event[{event.get('type')}].previous_attributes.{key}: unknown")
    return problems


# --- operations and their params --------------------------------------------------------------------
@dataclass(frozen=True)
class Operation:
    """One SDK operation: HTTP method, path template, params TypedDict and the service method."""

    method: str
    template: str
    params: type | None
    where: str

    @property
    def pattern(self) -> re.Pattern[str]:
        return re.compile("^" + re.sub(r"\\\{[a-z_]+\\\}", "[^/]+", re.escape(self.template)) + "$")


def _params_name(fn: ast.FunctionDef) -> str | None:
    for arg in fn.args.args + fn.args.kwonlyargs:
        if arg.arg == "params" and arg.annotation is not None:
            text = ast.unparse(arg.annotation)
            m = re.search(r"([A-Z][A-Za-z0-9]*Params)", text)
            return m.group(1) if m else None
    return None


def _request_call(fn: ast.FunctionDef) -> tuple[str, str] | None:
    for node in ast.walk(fn):
        if (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Attribute)
            and node.func.attr == "_request"
            and len(node.args) >= 2
            and isinstance(node.args[0], ast.Constant)
        ):
            target = node.args[1]
            if isinstance(target, ast.Call) and isinstance(target.func, ast.Attribute):
                target = target.func.value
            if isinstance(target, ast.Constant) and isinstance(target.value, str):
                return str(node.args[0].value).upper(), target.value
    return None


@functools.cache
def operations() -> tuple[Operation, ...]:
    """Every v1 operation the SDK's services make, literal paths before templated ones."""
    found: dict[tuple[str, str], Operation] = {}
    for path in sorted(SDK_ROOT.rglob("_*_service.py")):
        rel = path.relative_to(SDK_ROOT.parent).with_suffix("")
        module_name = ".".join(rel.parts)
        tree = _module_ast(str(path))
        imports = {
            alias.asname or alias.name: node.module
            for node in ast.walk(tree)
            if isinstance(node, ast.ImportFrom) and node.module
            for alias in node.names
        }
        for cls in (n for n in tree.body if isinstance(n, ast.ClassDef)):
            for fn in (n for n in cls.body if isinstance(n, ast.FunctionDef)):
                call = _request_call(fn)
                if call is None or not call[1].startswith("/v1/"):
                    continue
                name = _params_name(fn)
                params = None
                if name and name in imports:
                    params = getattr(importlib.import_module(str(imports[name])), name)
                key = call
                if key not in found:
                    found[key] = Operation(call[0], call[1], params, f"{module_name}.{fn.name}")
    ops = sorted(found.values(), key=lambda o: (o.template.count("{"), -len(o.template)))
    return tuple(ops)


def operation_for(method: str, path: str) -> Operation | None:
    """The SDK operation a logged request corresponds to."""
    for op in operations():
        if op.method == method.upper() and op.pattern.match(path):
            return op
    return None


def check_request(method: str, path: str, params: dict[str, Any]) -> list[str]:
    """A logged request (form-decoded params) against the SDK's params type for its operation."""
    op = operation_for(method, path)
    if op is None:
        return [f"{method} {path}: no such operation in the SDK"]
    if op.params is None:
        return [f"{method} {path}: ({op.where}) takes no params"] if params else []
    return _check_params(params, op.params, f"{method} {op.template}")


class _TypeCheckingNames(dict[str, Any]):
    """Names a params module imports only for type checkers, imported on first use."""

    def __init__(self, module_name: str) -> None:
        super().__init__()
        self.module_name = module_name

    def __missing__(self, name: str) -> Any:
        target = _type_checking_imports(self.module_name).get(name)
        if target is None:
            raise KeyError(name)
        value = getattr(importlib.import_module(target[0]), target[1])
        self[name] = value
        return value


def _eval_in(ann: Any, module_name: str) -> Any:
    """Evaluate a string or ForwardRef annotation in its params module."""
    text = ann.__forward_arg__ if isinstance(ann, ForwardRef) else ann
    return eval(text, vars(sys.modules[module_name]), _TypeCheckingNames(module_name))  # noqa: S307


@functools.cache
def params_hints(td: type) -> dict[str, Any]:
    """A params TypedDict's own fields (not the client-side RequestOptions), NotRequired dropped."""
    from stripe._request_options import RequestOptions

    client_side = set(RequestOptions.__annotations__)
    out: dict[str, Any] = {}
    for name, ann in td.__annotations__.items():
        if name in client_side:
            continue
        if isinstance(ann, ForwardRef | str):
            ann = _eval_in(ann, td.__module__)
        while typing.get_origin(ann) in (typing_extensions.NotRequired, typing_extensions.Required):
            ann = typing.get_args(ann)[0]
        if isinstance(ann, ForwardRef | str):
            ann = _eval_in(ann, td.__module__)
        out[name] = ann
    return out


def _check_params(value: Any, td: type, path: str) -> list[str]:
    if not isinstance(value, dict):
        return [f"{path}: expected a hash, got {value!r}"]
    hints = params_hints(td)
    docs = field_docs(td)
    problems = [f"{path}[{k}]: unknown parameter" for k in value if k not in hints]
    required = set(getattr(td, "__required_keys__", frozenset())) & set(hints)
    problems += [f"{path}[{k}]: required parameter missing" for k in sorted(required - set(value))]
    for key, item in value.items():
        if key in hints:
            problems += _check_param(
                item, hints[key], f"{path}[{key}]", docs.get(key, ""), td.__module__
            )
            total = doc_total_limit(docs.get(key, ""))
            if total is not None and sum(map(len, _strings(item))) > total:
                problems.append(f"{path}[{key}]: text over the combined limit of {total}")
    return problems


def _strings(value: Any) -> list[str]:
    if isinstance(value, str):
        return [value]
    if isinstance(value, dict):
        return [s for v in value.values() for s in _strings(v)]
    if isinstance(value, list):
        return [s for v in value for s in _strings(v)]
    return []


def _check_param(value: Any, ann: Any, path: str, doc: str, module: str) -> list[str]:
    if isinstance(ann, ForwardRef | str):
        ann = _eval_in(ann, module)
    origin = typing.get_origin(ann)
    args = typing.get_args(ann)
    if ann is Any:
        return []
    if origin in (Union, types.UnionType):
        known = {v for a in args if typing.get_origin(a) is Literal for v in typing.get_args(a)}
        if known - {""} and str in args and isinstance(value, str):
            # `Literal[...] | str` only leaves room for values added later: the known set counts.
            return [] if value in known else [f"{path}: {value!r} not one of {sorted(known)}"]
        results = [_check_param(value, a, path, doc, module) for a in args if a is not type(None)]
        return [] if any(not r for r in results) else min(results, key=len)
    if origin is Literal:
        text = {str(a).lower() if isinstance(a, bool) else str(a) for a in args}
        shown = str(value).lower() if isinstance(value, bool) else str(value)
        return [] if shown in text else [f"{path}: {value!r} not one of {sorted(text)}"]
    if origin in (list, typing.List):  # noqa: UP006
        items = value if isinstance(value, list) else None
        if items is None:
            return [f"{path}: expected an array, got {value!r}"]
        out: list[str] = []
        for i, item in enumerate(items):
            out += _check_param(item, args[0], f"{path}[{i}]", "", module)
        return out
    if origin in (dict, typing.Dict) or (isinstance(origin, type) and origin is not None):  # noqa: UP006
        return [] if isinstance(value, dict) else [f"{path}: expected a hash, got {value!r}"]
    if typing_extensions.is_typeddict(ann):
        return _check_params(value, ann, path)
    if ann is str:
        if not isinstance(value, str):
            return [f"{path}: expected a string, got {value!r}"]
        limit = doc_limit(doc)
        if limit is not None and len(value) > limit:
            return [f"{path}: {len(value)} characters, over the documented limit of {limit}"]
        return []
    if ann is bool:
        ok = isinstance(value, bool) or str(value).lower() in ("true", "false")
        return [] if ok else [f"{path}: expected a boolean, got {value!r}"]
    if ann is int:
        ok = not isinstance(value, bool) and re.fullmatch(r"-?\d+", str(value)) is not None
        return [] if ok else [f"{path}: expected an integer, got {value!r}"]
    if ann is float:
        try:
            float(str(value))
        except ValueError:
            return [f"{path}: expected a number, got {value!r}"]
    return []
