"""What a re-run needs to update in place but cannot find again through the target's API.

GitHub and Jira comments are found by the marker they carry, but a Slack message can only be edited by
its channel and timestamp, which chat.postMessage returns once. They are kept in a small JSON file
(attach.state_file, by default .inquest/attach-state.json): {incident id: {target: {...}}}.
Deleting the file is harmless: the next run posts a new message instead of editing the old one.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from inquest.errors import InputError


class AttachState:
    def __init__(self, path: Path) -> None:
        self.path = path

    def _load(self) -> dict[str, dict[str, Any]]:
        try:
            text = self.path.read_text(encoding="utf-8")
        except FileNotFoundError:
            return {}
        try:
            data = json.loads(text)
        except json.JSONDecodeError as exc:
            raise InputError(f"{self.path}: not valid JSON ({exc}); delete it and messages are posted anew") from None
        if not isinstance(data, dict):
            raise InputError(f"{self.path}: expected an object keyed by incident id, got {type(data).__name__}")
        return data

    def get(self, incident: str, target: str) -> Mapping[str, Any] | None:
        entry = self._load().get(incident, {}).get(target)
        return entry if isinstance(entry, dict) else None

    def put(self, incident: str, target: str, value: Mapping[str, Any]) -> None:
        data = self._load()
        data.setdefault(incident, {})[target] = dict(value)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        # Written beside and renamed, so an interrupted run never leaves half a file behind.
        partial = self.path.with_name(self.path.name + ".partial")
        partial.write_text(json.dumps(data, indent=2, sort_keys=True) + "\n", encoding="utf-8")
        os.replace(partial, self.path)
