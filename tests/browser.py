"""A real headless browser for tests: Debian's `chromium` (`make test` installs it with apt when missing).

    headless_dom(path)          the page's DOM after its scripts ran, as HTML text
    screenshot(path, png)       a PNG of the page as drawn

Each call starts a fresh browser with its own throw-away profile and every background network feature
off, so a test page can only reach what it embeds. Tests skip (with the reason) when no chromium is
installed; under `make test` it always is.
"""

from __future__ import annotations

import shutil
import subprocess
import tempfile
from pathlib import Path

import pytest

FLAGS = (
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
    "--disable-dev-shm-usage", "--hide-scrollbars", "--mute-audio",
)
# Generous: two cores shared with other test processes can make a cold browser start slow.
TIMEOUT_S = 120


def chromium() -> str:
    for name in ("chromium", "chromium-browser"):
        found = shutil.which(name)
        if found:
            return found
    pytest.skip("no chromium on PATH (`make test` installs Debian's chromium package)")


def _run(args: list[str]) -> subprocess.CompletedProcess[str]:
    with tempfile.TemporaryDirectory(prefix="inquest-chromium-") as profile:
        done = subprocess.run([chromium(), *FLAGS, f"--user-data-dir={profile}", *args],
                              capture_output=True, text=True, timeout=TIMEOUT_S)
    if done.returncode != 0:
        raise AssertionError(f"chromium exited with {done.returncode}: {done.stderr[-2000:]}")
    return done


def headless_dom(html_path: Path, budget_ms: int = 3000) -> str:
    """The serialized DOM after the page loaded and its scripts ran (within `budget_ms` of virtual time)."""
    return _run([f"--virtual-time-budget={budget_ms}", "--dump-dom", Path(html_path).resolve().as_uri()]).stdout


def screenshot(html_path: Path, png: Path, width: int = 1100, height: int = 1600) -> Path:
    _run([f"--window-size={width},{height}", f"--screenshot={Path(png).resolve()}", Path(html_path).resolve().as_uri()])
    if not Path(png).exists() or Path(png).stat().st_size == 0:
        raise AssertionError(f"chromium wrote no screenshot to {png}")
    return Path(png)
