"""The LLM mode: crewai agents backed by Claude review what the deterministic agents found.

    review.py      the stage the coordinator calls: specialists in parallel, then the coordinator agent
    crew.py        builds crewai agents, tasks and the Claude LLM (the only module that imports crewai)
    gateway.py     the one network boundary: redaction, budgets, retries and GenAI spans per model call
    tools.py       the agents' tools: read-only backend questions returning bounded JSON summaries
    briefing.py    what an agent is told: compact, redacted summaries of the incident and findings
    grounding.py   the model's structured output, validated and checked against existing evidence ids
    budget.py      per-investigation caps on tokens, dollars, tool calls and wall time
    templates.py   the versioned prompt templates in prompts/

Importing this package imports none of them: `inquest.agents` imports every sub-module of its own at
start-up, and crewai (seconds to import) must stay off the deterministic path.
"""

from __future__ import annotations

import gc
import importlib
import threading


def warm_up() -> threading.Thread:
    """Starts importing the LLM stage (crewai and the anthropic SDK: seconds of CPU) in a background
    thread, so that the import runs beside the deterministic investigation — whose agents wait on the
    store most of the time — instead of before the first model call. The stage's own import then finds
    the modules loaded, or waits for the rest of this one."""
    thread = threading.Thread(target=_import_stage, name="inquest-llm-warm-up", daemon=True)
    thread.start()
    return thread


def _import_stage() -> None:
    # The import builds ~10,000 long-lived classes (pydantic models, most of them the SDKs' types): the cyclic
    # collector ran ~800 times over them, 6 of them full passes over the growing heap, ~20% of the import's
    # CPU. It is paused for the import, and what the import built is then frozen (gc.freeze: moved to the
    # permanent generation, never scanned again), or each later full pass during the stage walks a million
    # objects (1.5 s of the stage on a loaded machine). Freezing keeps whatever garbage the deterministic
    # stage had in flight until exit: little, in a process that ends with the report (only `investigate`
    # warms up; the server does not).
    collecting = gc.isenabled()
    gc.disable()
    try:
        for module in ("inquest.agents.llm.crew", "inquest.agents.llm.toolset", "inquest.agents.llm.review"):
            importlib.import_module(module)  # crew first: it sets crewai's environment before crewai loads
    except ImportError:
        pass  # the stage reports a missing crewai as the configuration error it is, when it imports it
    finally:
        gc.freeze()
        if collecting:
            gc.enable()
