"""The crewai side: Claude as a crewai LLM, and one crew per agent's task. The only module importing crewai.

crewai's native Anthropic provider drives the `anthropic` SDK; Inquest's gateway is installed on the
clients it builds as SDK middleware, so every request crewai makes — completions and its own token
counts — goes through the budgets, redaction and retries (gateway.py).
"""

from __future__ import annotations

import os

# Before crewai is imported, because it reads these at import and at exit. Its own telemetry would wait
# ~10 s on DNS at every exit where the network is closed, and its tracing exporter would send the
# user's OTEL_EXPORTER_OTLP_HEADERS to crewai's collector. OTEL_SDK_DISABLED also silences crewai, but
# it would silence Inquest's own tracing with it, so it is never used for this.
os.environ["CREWAI_DISABLE_TELEMETRY"] = "true"
os.environ["CREWAI_TRACING_ENABLED"] = "false"
os.environ["CREWAI_DISABLE_VERSION_CHECK"] = "true"  # a PyPI lookup from the console formatter
os.environ.setdefault("CREWAI_STORAGE_DIR", "inquest")  # its app-data folder's name, instead of the cwd's

import functools
import logging
from collections.abc import Callable, Sequence
from typing import Any

from anthropic import Anthropic
from crewai import LLM, Agent, Crew, Process, Task
from crewai.crews.crew_output import CrewOutput
from crewai.tools import BaseTool
from crewai.utilities.task_output_storage_handler import TaskOutputStorageHandler
from pydantic import PrivateAttr

from inquest.agents.llm.gateway import ModelGateway
from inquest.config import LLMConfig


class _FromCrewai(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        return "/crewai/" not in record.pathname.replace("\\", "/")


# crewai logs every failed model call as an error, twice: on its own logger and on the root logger itself.
# With no logging set up, Python prints both to stderr in the middle of a report whose notes already say
# what failed and why. Its root-logger call (logging.error) also runs logging.basicConfig, which gives the
# root a stderr handler: from then on its own loggers' records (`ERROR:crewai.flow...`) reached stderr by
# propagation, which a filter on the root logger does not see. So unless the application set up logging
# before (`investigate -v` does), crewai's loggers do not propagate, and its root-logger duplicates are
# dropped. litellm, which crewai may route through, is kept quiet the same way.
for _name in ("crewai", "LiteLLM", "litellm"):
    _logger = logging.getLogger(_name)
    _logger.addHandler(logging.NullHandler())
    _logger.propagate = bool(logging.getLogger().handlers)
logging.getLogger().addFilter(_FromCrewai())


class _TaskOutputsInMemory(TaskOutputStorageHandler):
    """crewai's log of a kickoff's task outputs (for `crewai replay`), kept in memory. Its default writes
    each task's output to a SQLite file in the user's app-data folder behind a cross-process file lock:
    the parallel crews queued on that lock (portalocker polls it every 0.25 s), and the model's answers
    about an incident do not belong on disk. Inquest never replays a crew, so nothing reads it."""

    def __init__(self) -> None:  # no super().__init__(): that opens the SQLite file
        self.outputs: list[dict[str, Any]] = []

    def update(self, task_index: int, log: dict[str, Any]) -> None:
        self.outputs[task_index:task_index + 1] = [log]

    def add(self, task: Task, output: dict[str, Any], task_index: int, inputs: dict[str, Any] | None = None,
            was_replayed: bool = False) -> None:
        self.update(task_index, {"task": task, "output": output, "inputs": inputs or {}, "was_replayed": was_replayed})

    def reset(self) -> None:
        self.outputs.clear()

    def load(self) -> list[dict[str, Any]] | None:
        return self.outputs or None


class _Crew(Crew):
    _task_output_handler: TaskOutputStorageHandler = PrivateAttr(default_factory=_TaskOutputsInMemory)


def claude(settings: LLMConfig, api_key: str, gateway: ModelGateway) -> LLM:
    """Claude through crewai's native Anthropic provider, every request passing through `gateway`. One
    serves every crew of an investigation: building one costs two SSL contexts (~0.1 s of CPU each,
    GIL held), and crewai scopes its per-call state (stop words) to the calling context, not the LLM."""
    return LLM(
        model=f"anthropic/{settings.model}", api_key=api_key, base_url=settings.base_url,
        max_tokens=settings.max_tokens, timeout=settings.request_timeout_s, stream=False,
        max_retries=0,  # the gateway retries, within the wall-time budget
        client_params={"middleware": [gateway], "open_telemetry": False},
    )


def token_counter(settings: LLMConfig, api_key: str) -> Callable[[dict[str, Any]], int]:
    """The API's exact input-token count for a (redacted) request body: POST /v1/messages/count_tokens.
    Its client is built at the first count: most runs never need one, and building it (an SSL context
    from the CA bundle) cost ~0.08 s before the specialists could start."""

    @functools.cache
    def client() -> Anthropic:
        return Anthropic(api_key=api_key, base_url=settings.base_url, max_retries=0,
                         timeout=min(10.0, settings.request_timeout_s), open_telemetry=False)

    def count(body: dict[str, Any]) -> int:
        fields = {k: body[k] for k in ("model", "messages", "system", "tools", "tool_choice") if k in body}
        return int(client().messages.count_tokens(**fields).input_tokens)

    return count


def run_task(llm: LLM, *, role: str, goal: str, backstory: str, description: str, expected_output: str,
             tools: Sequence[BaseTool] = (), max_iter: int = 6) -> str:
    """One crewai agent doing one task; its final answer as text. Errors propagate to the caller."""
    agent = Agent(
        role=role, goal=goal, backstory=backstory, llm=llm, tools=list(tools), max_iter=max_iter,
        max_retry_limit=0,  # a failed call is the gateway's to retry; crewai re-running the task would double it
        allow_delegation=False, verbose=False, cache=False, inject_date=False, reasoning=False,
        respect_context_window=False,  # tool results are bounded; summarising would be extra, unbudgeted turns
        use_better_compaction=False,  # it writes large tool results to files; ours are small
    )
    task = Task(description=description, expected_output=expected_output, agent=agent)
    crew = _Crew(agents=[agent], tasks=[task], process=Process.sequential, verbose=False, cache=False,
                planning=False, tracing=False)
    output = crew.kickoff()
    if not isinstance(output, CrewOutput):  # a streaming output only comes back when a crew asks for streaming
        raise TypeError(f"crewai returned {type(output).__name__}, not a CrewOutput: streaming is not asked for")
    return str(output.raw)
