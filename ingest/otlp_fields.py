"""Decoding the fields of OTLP/JSON: attributes and AnyValues, hex ids, nanosecond times, numbers and enums.

Each decoder returns the plain value or raises Malformed with a message naming the field, so the caller
can prefix where in the document it was (`located`): messages are built only when something is wrong.
"""

from __future__ import annotations

import base64
import binascii
import json
import math
import re
from collections.abc import Callable, Mapping
from datetime import datetime, timedelta
from typing import Any, Literal, ParamSpec, TypeVar, overload

EPOCH = datetime(1970, 1, 1)
_HEX = re.compile(r"[0-9a-fA-F]+")
_LOWER_HEX = re.compile(r"[0-9a-f]+")
_MAX_NANOS = (datetime.max - EPOCH) // timedelta(microseconds=1) * 1000  # the last instant a datetime holds


class Malformed(ValueError):
    """One record (or envelope) is not valid OTLP; the message says where and why."""


def located(where: str, exc: Malformed) -> str:
    text = str(exc)
    return where + ("" if text.startswith(("[", ":", " ")) else ".") + text


_P = ParamSpec("_P")
_T = TypeVar("_T")


def within(where: str, parse: Callable[_P, _T], *args: _P.args, **kwargs: _P.kwargs) -> _T:
    try:
        return parse(*args, **kwargs)
    except Malformed as exc:
        raise Malformed(located(where, exc)) from None


def decode_attributes(items: Any, where: str = "attributes") -> dict[str, Any]:
    """OTLP KeyValue list -> plain dict (later duplicates win, as OTLP leaves it to the receiver)."""
    if items is None:
        return {}
    out: dict[str, Any] = {}
    for index, item in enumerate(as_list(items, where)):
        try:  # by far the most common case, a string value, decoded inline
            key, text = item["key"], item["value"]["stringValue"]
            if type(key) is str and key and type(text) is str:
                out[key] = text
                continue
        except (KeyError, TypeError):
            pass  # not an object, or not a string value: checked and decoded below
        if not isinstance(item, dict):
            raise Malformed(f"{where}[{index}] must be an object, got {type_name(item)}")
        key = item.get("key")
        if not isinstance(key, str) or not key:
            raise Malformed(f"{where}[{index}].key must be a non-empty string, got {shown(key)}")
        out[key] = within(f"{where}[{key}]", any_value, item.get("value"))
    return out


def any_value(value: Any) -> Any:
    """OTLP AnyValue -> a JSON-able Python value."""
    if value is None:
        return None
    value = as_object(value, "")
    if "stringValue" in value:
        text = value["stringValue"]
        if not isinstance(text, str):
            raise Malformed(f"stringValue must be a string, got {type_name(text)}")
        return text
    if "boolValue" in value:
        if not isinstance(value["boolValue"], bool):
            raise Malformed(f"boolValue must be true or false, got {shown(value['boolValue'])}")
        return value["boolValue"]
    if "intValue" in value:
        return as_int(value["intValue"], "intValue")
    if "doubleValue" in value:
        return as_float(value["doubleValue"], "doubleValue")
    if "arrayValue" in value:
        array = as_object(value["arrayValue"], "arrayValue")
        items = as_list(array.get("values") or [], "arrayValue.values")
        return [within(f"arrayValue.values[{i}]", any_value, v) for i, v in enumerate(items)]
    if "kvlistValue" in value:
        kvlist = as_object(value["kvlistValue"], "kvlistValue")
        return decode_attributes(kvlist.get("values") or [], "kvlistValue.values")
    if "bytesValue" in value:
        return value["bytesValue"] if isinstance(value["bytesValue"], str) else shown(value["bytesValue"])
    return None  # an empty AnyValue is allowed and means "no value"


def span_ids(span: Mapping[str, Any]) -> tuple[Any, Any, str | None]:
    """(traceId, spanId, parentSpanId). What exporters write, lower-case hex of the right length, is checked
    in one match; anything else goes through hex_id, which converts base64 and names what is wrong."""
    trace_id, span_id, parent = span.get("traceId"), span.get("spanId"), span.get("parentSpanId")
    if (type(trace_id) is str and type(span_id) is str and len(trace_id) == 32 and len(span_id) == 16
            and (parent is None or (type(parent) is str and len(parent) == 16))
            and _LOWER_HEX.fullmatch(f"{trace_id}{span_id}{parent or ''}")
            and trace_id.strip("0") and span_id.strip("0") and (parent is None or parent.strip("0"))):
        return trace_id, span_id, parent
    return (hex_id(trace_id, 16, "traceId", required=True), hex_id(span_id, 8, "spanId", required=True),
            hex_id(parent, 8, "parentSpanId", required=False))


def hex_id(value: Any, size: int, where: str, required: bool) -> str | None:
    if value in (None, ""):
        if required:
            raise Malformed(f"{where} is {'empty' if value == '' else 'missing'}")
        return None
    if not isinstance(value, str):
        raise Malformed(f"{where} must be a hex string, got {type_name(value)}")
    text = value
    if len(value) != 2 * size:
        try:  # the protobuf JSON mapping's base64, which some exporters send in place of OTLP's hex
            raw = base64.b64decode(value, validate=True)
        except (binascii.Error, ValueError):
            raw = b""
        if len(raw) != size:
            raise Malformed(f"{where} must be {2 * size} hex digits, got {shown(value)}")
        text = raw.hex()
    if not _HEX.fullmatch(text):
        raise Malformed(f"{where} must be {2 * size} hex digits, got {shown(value)}")
    if not text.strip("0"):
        raise Malformed(f"{where} is all zeros, which OpenTelemetry defines as invalid")
    return text.lower()


@overload
def nanos_time(value: Any, where: str, required: Literal[True]) -> datetime: ...
@overload
def nanos_time(value: Any, where: str, required: Literal[False]) -> datetime | None: ...
def nanos_time(value: Any, where: str, required: bool) -> datetime | None:
    """A fixed64 nanosecond timestamp (a decimal string or a number) -> naive UTC datetime."""
    if type(value) is str and value.isascii() and value.isdigit() and 0 < (nanos := int(value)) <= _MAX_NANOS:
        return EPOCH + timedelta(microseconds=nanos // 1000)  # what exporters write, without the checks below
    if value in (None, "", 0, "0"):
        if required:
            raise Malformed(f"{where} is missing")
        return None
    nanos = as_int(value, where)
    if nanos < 0:
        raise Malformed(f"{where} must not be negative, got {nanos}")
    try:
        return EPOCH + timedelta(microseconds=nanos // 1000)
    except OverflowError:
        raise Malformed(f"{where} is out of range: {nanos} ns since 1970") from None


def as_int(value: Any, where: str) -> int:
    if isinstance(value, bool):
        raise Malformed(f"{where} must be an integer, got a boolean")
    if isinstance(value, int):
        return value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, str):
        try:
            return int(value.strip())
        except ValueError:
            pass
    raise Malformed(f"{where} must be an integer, got {shown(value)}")


def as_float(value: Any, where: str) -> float:
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        number = float(value)
    elif isinstance(value, str):  # the protobuf JSON mapping writes "NaN" and "Infinity" as strings
        try:
            number = float(value)
        except ValueError:
            raise Malformed(f"{where} must be a number, got {shown(value)}") from None
    else:
        raise Malformed(f"{where} must be a number, got {shown(value)}")
    if not math.isfinite(number):
        raise Malformed(f"{where} must be a finite number, got {value}")
    return number


def as_enum(value: Any, by_number: Mapping[int, str], by_name: Mapping[str, str], prefix: str, where: str) -> str:
    """OTLP/JSON writes enums as integers; their names (`SPAN_KIND_SERVER`, or just `SERVER`) are
    accepted too, since hand-written and older files use them."""
    if type(value) is int and value in by_number:
        return by_number[value]
    if isinstance(value, str) and not value.strip().lstrip("-").isdigit():
        label = value.strip().upper().removeprefix(prefix)
        if label in by_name:
            return by_name[label]
        raise Malformed(f"{where}: unknown value {value!r} (expected one of {min(by_number)}..{max(by_number)} "
                        f"or {', '.join(prefix + n for n in by_name)})")
    number = as_int(value, where)
    if number not in by_number:
        raise Malformed(f"{where}: unknown value {number} (expected {min(by_number)}..{max(by_number)})")
    return by_number[number]


def as_object(value: Any, where: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise Malformed(f"{where} must be an object, got {type_name(value)}")
    return value


def as_list(value: Any, where: str) -> list[Any]:
    if not isinstance(value, list):
        raise Malformed(f"{where} must be a list, got {type_name(value)}")
    return value


def type_name(value: Any) -> str:
    return {dict: "an object", list: "a list", str: "a string", bool: "a boolean", int: "a number",
            float: "a number", type(None): "null"}.get(type(value), type(value).__name__)


def shown(value: Any) -> str:
    text = json.dumps(value) if not isinstance(value, str) else repr(value)
    return text if len(text) <= 60 else text[:57] + "..."
