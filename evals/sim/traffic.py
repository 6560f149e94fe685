"""The request generator every simulated world shares: who arrives when, and how a request is written down.

Requests arrive as a Poisson process whose rate follows the afternoon (`rate_at`); each picks a route by
its share of traffic, a user (a few heavy users, a long tail), a cart size and a SKU. What a request
then does is the flow's: the simulator interprets its scenario's topology (requests.py), the demo world
runs its own afternoon (demo_flow.py). Both write spans and log lines the same way, as tab-separated
lines in TABLES column order (empty field = NULL), and count RED signals per (service, operation,
metrics interval) of every SERVER and CONSUMER span on the way.

Two random streams keep a world comparable with and without its fault: `skeleton` decides who does
what when (arrivals, users, routes, cart sizes), `rng` everything else. A day may be cut into segments,
each with streams of its own, so segments can be simulated in parallel processes and the result does
not depend on how many run at once (the demo world does; a scenario is one segment).
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Callable, Iterator, Sequence
from itertools import accumulate
from random import Random

from inquest.evals.sim.model import BUCKET, MINUTE, MS, US
from inquest.evals.sim.tsv import LOG_LINE, SPAN_LINE

USERS = 40_000
# Spans are handed on every this long of simulated time, so a day never sits in memory whole.
FLUSH_US = 10 * MINUTE

Flush = Callable[[list[str]], object]


def diurnal(at: int, t0: int) -> float:
    """The traffic's shape over the afternoon: entry requests relative to the average, two slow waves."""
    minutes = (at - t0) / (60 * US)
    return 1 + 0.07 * math.sin(minutes / 29.0) + 0.04 * math.sin(minutes / 6.3)


class Clock:
    """Store timestamps for microseconds since the world's midnight, a table lookup per second."""

    def __init__(self, day: str, first_hour: int, last_hour: int) -> None:
        self.seconds: list[str | None] = [None] * 86400
        self.seconds[first_hour * 3600:last_hour * 3600] = [
            f"{day} {h:02d}:{m:02d}:{s:02d}." for h in range(first_hour, last_hour) for m in range(60)
            for s in range(60)]

    def ts(self, us: int) -> str:
        return f"{self.seconds[us // US]}{us % US:06d}"


class Traffic:
    """One segment of a day's requests (by default the whole day, t0 to t1): the arrivals, the random
    streams, and the span and log lines with the RED counts they imply."""

    def __init__(self, clock: Clock, seed: int, scale: float, t0: int, t1: int, segment: int = 0,
                 segments: int = 1) -> None:
        self.clock, self.scale, self.t0, self.t1 = clock, scale, t0, t1
        self.rng = Random(seed * 1_000_003 + segment * 7_919 + 1)
        self.r = self.rng.random
        self.skeleton = Random(seed * 1_000_033 + segment * 104_729 + 2)
        length = (t1 - t0) // segments
        self.start = t0 + segment * length
        self.end = t1 if segment == segments - 1 else self.start + length
        tenant_rng = Random(seed * 131 + 3)
        self.tenant_of = [f"t-{int(200 * tenant_rng.random() ** 2.2):03d}" for _ in range(USERS)]
        self.spans: list[str] = []
        self.logs: list[str] = []
        self.requests = 0
        # (service, operation, metrics interval since t0) -> durations (ms), errors
        self.red: dict[tuple[str, str, int], list[float]] = defaultdict(list)
        self.red_errors: dict[tuple[str, str, int], int] = defaultdict(int)

    def arrivals(self, rate_at: Callable[[int], float], shares: Sequence[float],
                 flush: Flush) -> Iterator[tuple[int, int, int, int, int]]:
        """Every request of the segment as (time, route index, user index, cart items 3..12, SKU), in time
        order; `rate_at(t)` is the arrival rate per second. Span lines go to `flush` as time passes."""
        sk = self.skeleton
        thresholds = list(accumulate(shares))
        last = len(thresholds) - 1
        t, flush_at = self.start, self.start + FLUSH_US
        while True:
            t += int(sk.expovariate(rate_at(t)) * US)
            if t >= self.end:
                break
            if t >= flush_at:
                flush(self.spans)
                self.spans = []
                flush_at += FLUSH_US
            r = sk.random()
            route = 0
            while route < last and r >= thresholds[route]:
                route += 1
            user = int(USERS * sk.random() ** 1.35)
            items = 3 + int(sk.random() * 10)
            sku = int(sk.random() * 20_000)
            yield t, route, user, items, sku
            self.requests += 1
        flush(self.spans)
        self.spans = []

    # -- writing it down --------------------------------------------------------------------------

    def _id(self) -> str:
        return f"{self.rng.getrandbits(64):016x}"

    def ms(self, span: tuple[float, float]) -> int:
        """A uniform duration within `span` (milliseconds), in microseconds."""
        return int((span[0] + (span[1] - span[0]) * self.r()) * MS)

    def _net(self) -> int:
        return int(200 + 900 * self.r())

    def _span(self, c, sid, parent, service, host, name, kind, start, end, error, message="", method="",
              route="", code="", peer="", statement="", attrs="") -> None:
        seconds = self.clock.seconds
        self.spans.append(SPAN_LINE % (
            c[0], sid, parent, service, host, name, kind, seconds[start // US], start % US, seconds[end // US],
            end % US, (end - start) / MS, "ERROR" if error else "UNSET", message, method, route, code, peer,
            "postgresql" if statement else "", statement, c[1], c[2], attrs))
        if kind == "SERVER" or kind == "CONSUMER":
            key = (service, name, (start - self.t0) // BUCKET)
            self.red[key].append((end - start) / MS)
            if error:
                self.red_errors[key] += 1

    def log(self, at, c, sid, severity, number, service, host, body) -> None:
        self.logs.append(LOG_LINE % (self.clock.ts(at), c[0] if c else "", sid or "", severity, number, service,
                                     host, body, ""))

    def _access_line(self, at, c, sid, service, host, method, path, code) -> None:
        """The access log line a server writes for a sampled request."""
        ip = f"10.42.{int(self.r() * 8)}.{int(self.r() * 250) + 2}"
        self.log(at, c, sid, "INFO", 9, service, host, f'{ip}:{40000 + int(self.r() * 20000)} - '
                 f'"{method} {path} HTTP/1.1" {code}')
