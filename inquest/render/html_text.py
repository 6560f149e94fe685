"""What the HTML report's parts share: escaping, inline code, numbers read from evidence, and axis ticks."""

from __future__ import annotations

import math
import re
from datetime import datetime
from html import escape
from typing import Any

from inquest.core import utc

_CODE = re.compile(r"`([^`\n]+)`")
CHAR_PX = 6.6  # average glyph width of the 11 px SVG labels, for keeping labels apart


def esc(value: Any) -> str:
    return escape(str(value), quote=True)


def rich(value: Any) -> str:
    """Escaped text with `backticked` spans as code: agents quote statements and templates that way."""
    return _CODE.sub(r"<code>\1</code>", esc(value))


def when(value: Any) -> datetime | None:
    """A timeline bucket's time: a datetime, or an ISO string where a backend handed one back."""
    if isinstance(value, datetime):
        return utc(value)
    if isinstance(value, str):
        try:
            return utc(datetime.fromisoformat(value.replace("Z", "+00:00")))
        except ValueError:
            return None
    return None


def number(value: Any) -> float:
    try:
        return float(value)
    except (TypeError, ValueError):
        return 0.0


def nice_ticks(top: float, most: int = 5) -> list[float]:
    """0 up to at least `top` in at most `most` steps of 1, 2 or 5 times a power of ten, so an axis
    reads 0/500/1,000/1,500 ms rather than 0/442/883/1,325 ms (Heckbert's nice numbers)."""
    top = top if top > 0 and math.isfinite(top) else 1.0
    raw = top / most
    magnitude = 10 ** math.floor(math.log10(raw))
    step = next(m * magnitude for m in (1, 2, 5, 10) if m * magnitude >= raw * (1 - 1e-9))
    return [round(i * step, 12) for i in range(math.ceil(top / step - 1e-9) + 1)]


def ms_label(value: float) -> str:
    """A latency tick: milliseconds below a second, seconds above."""
    return f"{value:,.0f} ms" if value < 1000 else f"{value / 1000:g} s"


def share_label(value: float) -> str:
    """An error-rate tick, with no more digits than the step needs."""
    return f"{value * 100:.{0 if round(value * 100, 6).is_integer() else 1}f}%"


def text_width(text: str) -> float:
    return len(text) * CHAR_PX + 8
