"""`investigate init [FOLDER]`: writes a commented config.yaml for your own data (no demo world).

The store it names is empty until `investigate ingest` loads your telemetry into it; then
`investigate INCIDENT-ID` investigates. An existing config.yaml is never overwritten (--force does).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from inquest.errors import InquestError
from inquest.exits import EXIT_OK

TEMPLATE = """\
# Inquest configuration, written by `investigate init`. Validated on load: an unknown key or a wrong type
# is an error naming the key. Relative paths are resolved against this file's folder. Every key has a
# default; what is here is what you are most likely to change. All keys: the config.yaml in the repository.
# Secrets are never written here: reference them as ${ENV_VAR}, read only when the integration runs.

backend:
  kind: embedded                    # the embedded DuckDB store; or elasticsearch (docs/elasticsearch.md)
  embedded:
    path: .inquest/store.duckdb     # `investigate ingest FILES` creates and fills it
    demo: false                     # true: build the seeded demo world here when the file is missing
  # elasticsearch:
  #   urls: [https://es.example.com:9200]
  #   api_key: ${ES_API_KEY}

code:
  repository: .                     # the git repository of your services' source (for the code-diff agent)...
  repositories: {}                  # ...or one per service, e.g. {orders: ../orders-service}

investigation:
  agent_timeout_s: 20               # an agent that has not answered by then is reported as timed out
  baseline_minutes: 40              # the fault-free window compared against...
  baseline_gap_minutes: 5           # ...ending this long before the incident window starts
  lookback_minutes: 120             # suspect changes: from this long before the window to its end

impact:
  slo_availability: 0.999           # for error-budget burn
  slow_request_ms: 2000             # a request slower than this counts as affected

# attach:                           # `investigate ID --attach github` posts the report (docs/attach.md)
#   github:
#     token: ${GITHUB_TOKEN}        # the default; checked before the investigation, only with --attach github
#   slack:
#     webhook_url: ${SLACK_WEBHOOK_URL}
"""

NEXT_STEPS = """\
wrote {path}
next:
  investigate ingest traces.json logs.json changes.ndjson incident.yaml   # your data (docs/ingest.md)
  investigate incidents                                                   # what the store now knows
  investigate INCIDENT-ID                                                 # the ranked report
"""


def main(args: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="investigate init", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("folder", nargs="?", default=".", type=Path, help="where to write config.yaml (default: here)")
    parser.add_argument("--force", action="store_true", help="overwrite an existing config.yaml")
    opts = parser.parse_args(args)
    if not opts.folder.is_dir():
        raise InquestError(f"init: {opts.folder} is not a folder")
    path = opts.folder / "config.yaml"
    if path.exists() and not opts.force:
        raise InquestError(f"init: {path} exists already; edit it, or pass --force to replace it")
    path.write_text(TEMPLATE, encoding="utf-8")
    sys.stdout.write(NEXT_STEPS.format(path=path))
    return EXIT_OK
