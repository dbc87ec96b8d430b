"""Stripe's form encoding: bracket notation (`created[gte]`, `expand[]`, `types[0]`) to nested data."""

from __future__ import annotations

import re
from email.parser import BytesParser
from email.policy import HTTP
from typing import Any
from urllib.parse import parse_qsl

from sandbox.errors import ApiError, invalid

_KEY = re.compile(r"^([^\[\]]+)((?:\[[^\[\]]*\])*)$")


def _insert(root: dict[str, Any], raw_key: str, value: Any) -> None:
    m = _KEY.match(raw_key)
    if not m:
        raise invalid(raw_key, f"Invalid parameter name: {raw_key}", code="parameter_unknown")
    parts = [m.group(1)] + re.findall(r"\[([^\[\]]*)\]", m.group(2))
    node: Any = root
    for i, part in enumerate(parts):
        last = i == len(parts) - 1
        if part == "":
            # `a[]=x`: append to a list kept under a special key, flattened at the end.
            if not isinstance(node, dict):
                raise invalid(raw_key, f"Invalid array parameter: {raw_key}")
            bucket = node.setdefault("\0list", [])
            if last:
                bucket.append(value)
                return
            child: dict[str, Any] = {}
            bucket.append(child)
            node = child
            continue
        if not isinstance(node, dict):
            raise invalid(raw_key, f"Invalid hash parameter: {raw_key}")
        if last:
            node[part] = value
        else:
            nxt = node.get(part)
            if not isinstance(nxt, dict):
                nxt = {}
                node[part] = nxt
            node = nxt


def _normalise(node: Any) -> Any:
    """Turn `{"\\0list": [...]}` and `{"0": .., "1": ..}` dicts into lists."""
    if not isinstance(node, dict):
        return node
    if "\0list" in node and len(node) == 1:
        return [_normalise(v) for v in node["\0list"]]
    if node and all(k.isdigit() for k in node):
        return [_normalise(node[k]) for k in sorted(node, key=int)]
    return {k: _normalise(v) for k, v in node.items()}


def parse_pairs(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    """Nested params from flat (key, value) pairs."""
    root: dict[str, Any] = {}
    for key, value in pairs:
        _insert(root, key, value)
    return _normalise(root)


def parse_query(query: str) -> dict[str, Any]:
    """Parse a query string or an urlencoded body."""
    try:
        pairs = parse_qsl(query, keep_blank_values=True, strict_parsing=False)
    except ValueError as exc:
        raise ApiError(400, f"Invalid request body: {exc}") from exc
    return parse_pairs(pairs)


class UploadedFile:
    """One file part of a multipart body."""

    def __init__(self, filename: str, content_type: str, data: bytes) -> None:
        self.filename = filename
        self.content_type = content_type
        self.data = data


def parse_multipart(content_type: str, body: bytes) -> dict[str, Any]:
    """Parse multipart/form-data; file parts become `UploadedFile`."""
    head = f"Content-Type: {content_type}\r\nMIME-Version: 1.0\r\n\r\n".encode()
    msg = BytesParser(policy=HTTP).parsebytes(head + body)
    if not msg.is_multipart():
        raise ApiError(400, "Invalid multipart body.")
    pairs: list[tuple[str, Any]] = []
    for part in msg.iter_parts():
        name = part.get_param("name", header="content-disposition")
        if not name:
            continue
        raw = part.get_payload(decode=True)
        payload = raw if isinstance(raw, bytes) else b""
        filename = part.get_filename()
        if filename is not None:
            ctype = part.get_content_type()
            pairs.append((str(name), UploadedFile(filename, ctype, payload)))
        else:
            pairs.append((str(name), payload.decode("utf-8", "replace")))
    return parse_pairs(pairs)


def as_int(params: dict[str, Any], name: str, default: int | None = None) -> int | None:
    """An integer parameter, or Stripe's `Invalid integer` error."""
    raw = params.get(name)
    if raw is None:
        return default
    try:
        return int(str(raw))
    except ValueError:
        raise invalid(name, f"Invalid integer: {raw}", code="parameter_invalid_integer") from None


def as_bool(params: dict[str, Any], name: str, default: bool) -> bool:
    """A boolean parameter (`true`/`false`)."""
    raw = params.get(name)
    if raw is None:
        return default
    if isinstance(raw, bool):
        return raw
    text = str(raw).lower()
    if text in ("true", "1"):
        return True
    if text in ("false", "0"):
        return False
    raise invalid(name, f"Invalid boolean: {raw}", code="parameter_invalid_boolean")


def as_str(params: dict[str, Any], name: str, default: str | None = None) -> str | None:
    """A string parameter; a hash or array where a string belongs is an error."""
    raw = params.get(name)
    if raw is None:
        return default
    if not isinstance(raw, str):
        raise invalid(
            name, f"Invalid string: {name} must be a string", code="parameter_invalid_string"
        )
    return raw


def as_list(params: dict[str, Any], name: str) -> list[str]:
    """An array-of-strings parameter (`expand[]`, `types[]`)."""
    raw = params.get(name)
    if raw is None or raw == "":
        return []
    if isinstance(raw, str):
        return [raw]
    if isinstance(raw, list) and all(isinstance(v, str) for v in raw):
        return list(raw)
    raise invalid(
        name, f"Invalid array: {name} must be an array of strings", code="parameter_invalid_array"
    )


def check_known(params: dict[str, Any], allowed: set[str]) -> None:
    """Reject the first parameter the endpoint does not take, as Stripe does."""
    for key in params:
        if key not in allowed:
            raise ApiError(
                400, f"Received unknown parameter: {key}", code="parameter_unknown", param=key
            )


def as_metadata(params: dict[str, Any], name: str = "metadata") -> dict[str, str] | None:
    """A metadata hash (string values; empty string deletes a key)."""
    raw = params.get(name)
    if raw is None:
        return None
    if raw == "":
        return {}
    if not isinstance(raw, dict):
        raise invalid(name, "Invalid hash: metadata must be a hash", code="parameter_invalid_hash")
    return {str(k): str(v) for k, v in raw.items()}
