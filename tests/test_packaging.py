"""An installed copy: only `inquest` at the top level, and the `investigate` command works."""

from __future__ import annotations

import shutil
import subprocess
import sys
import tomllib
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def _uv() -> str:
    found = shutil.which("uv") or (ROOT / ".tools/bin/uv")
    if not Path(found).exists():
        pytest.skip("uv is not installed (make env installs it)")
    return str(found)


def test_wheel_claims_only_the_inquest_package_and_its_command_runs(tmp_path: Path):
    uv = _uv()
    # --offline: the build backend and every dependency come from uv's cache, filled by `make env`.
    subprocess.run([uv, "build", "--wheel", "--offline", "-q", "-o", str(tmp_path / "dist"), str(ROOT)],
                   check=True, capture_output=True, timeout=300)
    [wheel] = (tmp_path / "dist").glob("*.whl")
    top_level = {name.split("/")[0] for name in zipfile.ZipFile(wheel).namelist()}
    assert {t for t in top_level if not t.endswith(".dist-info")} == {"inquest"}
    names = zipfile.ZipFile(wheel).namelist()
    assert "inquest/agents/trace.py" in names and "inquest/tools/backends/embedded_store.py" in names
    # A package folder missing from pyproject's list works in the editable install and fails after pip install.
    missing = _modules_in_the_checkout() - set(names)
    assert not missing, f"not in the wheel (add the package to pyproject's packages and package-dir): {sorted(missing)}"

    # A fresh venv gets the wheel itself; its third-party dependencies are borrowed from the project's
    # environment through a path line (tests stay offline, and uv cannot resolve a registry offline).
    # Only a path is added, so .venv's editable `inquest` finder is not loaded: inquest comes from the wheel.
    venv = tmp_path / "venv"
    subprocess.run([uv, "venv", "-q", "--python", sys.executable, str(venv)], check=True, timeout=120)
    subprocess.run([uv, "pip", "install", "-q", "--offline", "--no-deps", "--python", str(venv / "bin/python"),
                    str(wheel)], check=True, capture_output=True, timeout=300)
    [site] = (venv / "lib").glob("python3*/site-packages")
    [project_site] = (Path(sys.prefix) / "lib").glob("python3*/site-packages")
    (site / "borrowed-deps.pth").write_text(f"{project_site}\n")
    where = subprocess.run([str(venv / "bin/python"), "-c", "import inquest.agents; print(inquest.agents.__file__)"],
                           capture_output=True, text=True, check=True, timeout=60, cwd=tmp_path)
    assert where.stdout.startswith(str(venv))
    done = subprocess.run([str(venv / "bin/investigate"), "--help"], capture_output=True, text=True, timeout=60,
                          cwd=tmp_path)
    assert done.returncode == 0 and "INCIDENT-ID" in done.stdout


def _modules_in_the_checkout() -> set[str]:
    """Where each module of every package folder (one holding __init__.py) lands in the wheel."""
    mapping = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]["package-dir"]
    expected = set()
    for package, folder in mapping.items():
        for init in (ROOT / folder).rglob("__init__.py"):
            inside = init.parent.relative_to(ROOT / folder)
            if any(part.startswith(".") or part == "__pycache__" for part in inside.parts):
                continue
            target = "/".join([*package.split("."), *inside.parts])
            expected |= {f"{target}/{module.name}" for module in init.parent.glob("*.py")}
    return expected
