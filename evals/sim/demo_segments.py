"""The demo world's day, simulated segment by segment in worker processes (two at a time).

Each worker (`python -m inquest.evals.sim.demo_segments SEED SCALE INJECT SEGMENT OUT_DIR`) writes its
segment's spans and logs as tab-separated text and pickles the aggregates metrics are derived from; the
building process bulk-copies one segment into the store while the workers simulate the next ones.
"""

from __future__ import annotations

import os
import pickle
import subprocess
import sys
from pathlib import Path

from inquest.evals.sim.demo_base import POOL_SIZE, POOL_TIMEOUT_MS, ROLLOUT, T_END, T_START, Aggregates
from inquest.evals.sim.demo_flow import SEGMENTS, DemoRequests
from inquest.evals.sim.model import MS, US, hms
from inquest.evals.sim.planted import ORDERS_DSN, SESSION_TOKENS


def planted_logs(traffic: DemoRequests) -> None:
    """Lines that belong to no request, logged after the last segment's requests (its random stream goes on):
    deploy start-up lines (the orders one leaks its DSN) and rejected session tokens."""
    rng = traffic.rng
    for service, at, version in (("inventory", hms(13, 20, 20), "3.8.1"), ("notifications", hms(13, 50, 15),
                                 "1.9.0"), ("orders", ROLLOUT, "2.14.0"), ("frontend", hms(14, 4, 20), "5.2.0")):
        for i, host in enumerate(traffic.pods[service]):
            start = at + i * 25 * US + traffic.ms((0, 4000))
            if service == "orders":
                traffic.log(start, None, None, "INFO", 9, service, host, f"connecting to {ORDERS_DSN}")
                traffic.log(start + 180 * MS, None, None, "INFO", 9, service, host,
                            f"connection pool ready (min 2, max {POOL_SIZE}, timeout {POOL_TIMEOUT_MS}ms)")
            traffic.log(start + 400 * MS, None, None, "INFO", 9, service, host, f"{service} {version} ready")
    span = (T_END - T_START) // len(SESSION_TOKENS)
    for i, token in enumerate(SESSION_TOKENS):
        at = T_START + i * span + int(rng.random() * span)
        host = traffic.pick_host("frontend")
        traffic.log(at, None, None, "WARN", 13, "frontend", host, f"rejected session token {token}: signature "
                    "verification failed")


def run_segment(seed: int, scale: float, inject: bool, segment: int, out: Path) -> None:
    """Writes spans-<segment>.tsv, logs-<segment>.tsv and aggregates-<segment>.pickle into `out`."""
    traffic = DemoRequests(seed, scale, inject, segment)
    with open(out / f"spans-{segment}.tsv", "w", encoding="utf-8") as spans:
        traffic.run(spans.writelines)
    if segment == SEGMENTS - 1:
        planted_logs(traffic)
    with open(out / f"logs-{segment}.tsv", "w", encoding="utf-8") as logs:
        logs.writelines(traffic.logs)
    done = out / f"aggregates-{segment}.pickle"
    with open(done.with_suffix(".partial"), "wb") as f:
        pickle.dump(traffic.aggregates(), f, protocol=pickle.HIGHEST_PROTOCOL)
    done.with_suffix(".partial").replace(done)


class Segments:
    """Simulates the day's segments in worker processes, at most `workers` at a time, in segment order."""

    def __init__(self, seed: int, scale: float, inject: bool, out: Path) -> None:
        self.args = [str(seed), repr(float(scale)), "1" if inject else "0"]
        self.out = out
        self.workers = max(1, min(2, os.cpu_count() or 1))
        self.running: dict[int, subprocess.Popen] = {}
        self.launched = 0
        # The workers import what this process imports, from wherever it found it.
        self.env = {**os.environ, "PYTHONPATH": os.pathsep.join(p for p in sys.path if p)}

    def start(self) -> None:
        while self.launched < SEGMENTS and len(self.running) < self.workers:
            command = [sys.executable, "-m", "inquest.evals.sim.demo_segments", *self.args, str(self.launched),
                       str(self.out)]
            self.running[self.launched] = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                                                           env=self.env)
            self.launched += 1

    def wait(self, segment: int) -> Aggregates:
        """Waits for `segment` (starting the next one as soon as a worker frees up) and returns its aggregates."""
        process = self.running.pop(segment)
        _, stderr = process.communicate()
        if process.returncode != 0:
            raise RuntimeError(f"demo world: segment {segment} failed ({process.returncode}): "
                               f"{stderr.decode(errors='replace')[-2000:]}")
        self.start()
        with open(self.out / f"aggregates-{segment}.pickle", "rb") as f:
            return pickle.load(f)

    def stop(self) -> None:
        for process in self.running.values():
            process.kill()
            process.wait()


if __name__ == "__main__":  # python -m inquest.evals.sim.demo_segments SEED SCALE INJECT SEGMENT OUT_DIR
    run_segment(int(sys.argv[1]), float(sys.argv[2]), sys.argv[3] == "1", int(sys.argv[4]), Path(sys.argv[5]))
