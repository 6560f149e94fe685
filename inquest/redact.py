"""Secrets and personal data out of everything Inquest shows or sends: reports and model requests.

Telemetry carries what production leaked into it — a DSN in a start-up log line, a bearer token in a
debug line, customers' email addresses. Each kind has its own pattern, tried in a fixed order (a
connection string's password before the generic `password=` rule, a JWT before a generic token), and
each match becomes `[REDACTED:kind]` so a reader still sees that something was there and what it was.

Patterns are specific on purpose: commit SHAs, trace ids, evidence ids, SQL placeholders and version
numbers are what an investigation is made of, so "looks random" is never a reason to redact.
"""

from __future__ import annotations

import dataclasses
import re
import threading
from collections import Counter
from collections.abc import Mapping
from typing import TypeVar

KINDS = ("private_key", "jwt", "connection_string", "api_key", "token", "password", "email", "ip")

_SECRET_NAME = r"[A-Za-z0-9_.-]*?(?:password|passwd|pwd|secret|token|api[_-]?key|apikey|access[_-]?key|auth[_-]?key|credentials?)"
_PLACEHOLDER = r"(?!\$\d|\?|:[A-Za-z_]|%s|\[REDACTED)"

# (kind, pattern, replacement) in the order they are applied; a replacement may keep a prefix group.
_RULES: tuple[tuple[str, re.Pattern[str], str], ...] = (
    # To its END line; a key cut short (a truncated log line) to where its base64 body stops.
    ("private_key", re.compile(
        r"-----BEGIN (?:[A-Z0-9]+ )*PRIVATE KEY(?: BLOCK)?-----(?:.*?-----END (?:[A-Z0-9]+ )*PRIVATE KEY(?: BLOCK)?-----"
        r"|(?:[A-Za-z0-9+/=\s]|\\n)*)", re.DOTALL), "[REDACTED:private_key]"),
    ("jwt", re.compile(r"\beyJ[A-Za-z0-9_-]{4,}\.[A-Za-z0-9_-]{4,}\.[A-Za-z0-9_-]{8,}"), "[REDACTED:jwt]"),
    # user:password@ in any URL-shaped connection string; the scheme and host stay, they help diagnosis.
    ("connection_string", re.compile(r"\b([a-z][a-z0-9+.-]{1,30}://)[^\s/@:'\"\[\]]+:[^\s@/'\"]+@", re.IGNORECASE),
     r"\1[REDACTED:connection_string]@"),
    # ADO/ODBC style: Server=...;User Id=...;Password=...;
    ("connection_string", re.compile(r"(?i)(;\s*(?:Password|Pwd)\s*=\s*)" + _PLACEHOLDER + r"[^;\s'\"]+(?=;|$|\s)"),
     r"\1[REDACTED:connection_string]"),
    ("api_key", re.compile(
        r"\b(?:sk-ant-[A-Za-z0-9_-]{10,}|sk-(?:proj-)?[A-Za-z0-9_-]{20,}|[sr]k_(?:live|test)_[A-Za-z0-9]{10,}"
        r"|pk_live_[A-Za-z0-9]{10,}|(?:AKIA|ASIA)[0-9A-Z]{16}|gh[pousr]_[A-Za-z0-9]{30,}"
        r"|github_pat_[A-Za-z0-9_]{20,}|xox[abposr]-[A-Za-z0-9-]{10,}|AIza[0-9A-Za-z_-]{35}"
        r"|glpat-[A-Za-z0-9_-]{20,}|npm_[A-Za-z0-9]{36}|SG\.[A-Za-z0-9_-]{16,}\.[A-Za-z0-9_-]{16,})"),
     "[REDACTED:api_key]"),
    ("token", re.compile(r"(?i)\b((?:Bearer|Basic|Token)\s+)" + _PLACEHOLDER + r"[A-Za-z0-9._~+/=-]{8,}"),
     r"\1[REDACTED:token]"),
    # name = value, name: value, "name": "value" and ?name=value, for names that say they hold a secret.
    # A quote may come escaped (\") when the line sits inside a JSON string, as in a tool result.
    ("password", re.compile(
        r"(?i)(\b[A-Za-z0-9_.-]*?(?:password|passwd|pwd)(?:\\?[\"'])?\s*[:=]\s*(?:\\?[\"'])?)" + _PLACEHOLDER
        + r"([^\s\"',;&}\\]{3,})"), r"\1[REDACTED:password]"),
    ("token", re.compile(r"(?i)(\b" + _SECRET_NAME + r"(?:\\?[\"'])?\s*[:=]\s*(?:\\?[\"'])?)" + _PLACEHOLDER
                         + r"([^\s\"',;&}\\]{6,})"), r"\1[REDACTED:token]"),
    ("email", re.compile(r"\b[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}\b"), "[REDACTED:email]"),
)
_IP_RULES: tuple[tuple[str, re.Pattern[str], str], ...] = (
    ("ip", re.compile(r"(?<!\d\.)(?<!\d)(?:(?:25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)\.){3}(?:25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)(?!\.?\d)"),
     "[REDACTED:ip]"),
    # Full eight-group IPv6, or a compressed form with "::" — never a clock time like 13:58:00.
    ("ip", re.compile(r"(?<![\w:])(?:(?:[0-9a-fA-F]{1,4}:){7}[0-9a-fA-F]{1,4}"
                      r"|(?:[0-9a-fA-F]{1,4}:){1,6}:(?:[0-9a-fA-F]{1,4}(?::[0-9a-fA-F]{1,4}){0,5})?"
                      r"|::(?:[0-9a-fA-F]{1,4}:){0,6}[0-9a-fA-F]{1,4})(?![\w:])"), "[REDACTED:ip]"),
)


def redact(text: str, ips: bool = False) -> tuple[str, Counter[str]]:
    """`text` with every secret and piece of personal data replaced, and how many of each kind."""
    counts: Counter[str] = Counter()
    if not text:
        return text, counts
    for kind, pattern, replacement in _RULES + (_IP_RULES if ips else ()):
        text, found = pattern.subn(replacement, text)
        if found:
            counts[kind] += found
    return text, counts


T = TypeVar("T")


class Redactor:
    """Redacts nested values (dataclasses, mappings, sequences, strings) and keeps count across calls."""

    def __init__(self, ips: bool = False) -> None:
        self.ips = ips
        self.counts: Counter[str] = Counter()
        self._lock = threading.Lock()  # one redactor serves the parallel agents of an investigation

    def text(self, value: str) -> str:
        cleaned, found = redact(value, self.ips)
        if found:
            with self._lock:
                self.counts.update(found)
        return cleaned

    def value(self, value: T) -> T:
        if isinstance(value, str):
            return self.text(value)  # type: ignore[return-value]
        if value is None or isinstance(value, (bool, int, float)):
            return value
        if dataclasses.is_dataclass(value) and not isinstance(value, type):
            changes = {f.name: self.value(getattr(value, f.name)) for f in dataclasses.fields(value) if f.init}
            return dataclasses.replace(value, **changes)
        if isinstance(value, Mapping):
            return {self.value(k) if isinstance(k, str) else k: self.value(v)  # type: ignore[return-value]
                    for k, v in value.items()}
        if isinstance(value, tuple):
            return tuple(self.value(v) for v in value)  # type: ignore[return-value]
        if isinstance(value, list):
            return [self.value(v) for v in value]  # type: ignore[return-value]
        return value  # datetimes, decimals and other scalars carry no text


def describe(counts: Mapping[str, int]) -> str:
    """'3 email addresses, 1 connection string' — for a report note."""
    names = {"private_key": "private key", "jwt": "JWT", "connection_string": "connection-string credential",
             "api_key": "API key", "token": "token", "password": "password", "email": "email address",
             "ip": "IP address"}
    def plural(name: str, n: int) -> str:
        return name if n == 1 else name + ("es" if name.endswith("ss") else "s")

    return ", ".join(f"{counts[kind]} {plural(names[kind], counts[kind])}" for kind in KINDS if counts.get(kind))


def redact_report(report: T, ips: bool = False) -> tuple[T, Counter[str]]:
    """The report with every string in it redacted — hypotheses, evidence (summaries, queries, data),
    notes, facts, narrative — and the counts; ids and numbers are untouched."""
    redactor = Redactor(ips)
    return redactor.value(report), redactor.counts
