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
