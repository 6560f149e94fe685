"""Build .lint/src/inquest: the installed package layout as symlinks, for mypy and import-linter.

pyproject.toml maps root folders into the package (agents/ -> inquest.agents, ...). The editable install
resolves that with an import hook, which neither mypy nor import-linter (grimp) follow, so `make lint`
points them at this tree instead: every path in it is a symlink to the real file, so messages name real code.
"""

import shutil
import sys
import tomllib
from pathlib import Path

root = Path(__file__).resolve().parent.parent
out = root / ".lint" / "src"
mapping: dict[str, str] = tomllib.loads((root / "pyproject.toml").read_text())["tool"]["setuptools"]["package-dir"]
shutil.rmtree(out, ignore_errors=True)
for package, folder in sorted(mapping.items(), key=lambda item: item[0].count(".")):
    target = out.joinpath(*package.split("."))
    source = (root / folder).resolve()
    if target.exists() and target.resolve() == source:
        continue  # already inside a linked parent folder (tools/backends within tools/)
    if "." in package:
        target.symlink_to(source, target_is_directory=True)
        continue
    target.mkdir(parents=True)  # a root package: a real folder, so the mapped subpackages can sit in it
    for entry in source.iterdir():
        if entry.name != "__pycache__" and entry.name not in {p.split(".")[1] for p in mapping if p.count(".") == 1}:
            (target / entry.name).symlink_to(entry)
sys.exit(0)
