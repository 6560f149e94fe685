"""The Anthropic Messages API's request contract, as the scripted server checks it: which fields each
endpoint accepts, the shape of messages, content blocks and tools, the authentication headers."""

from __future__ import annotations

import json
import math
import re
from typing import Any

API_KEY = "sk-ant-test-0000000000000000000000"  # what the tests set as ANTHROPIC_API_KEY
MESSAGES_FIELDS = {
    "model", "messages", "max_tokens", "system", "tools", "tool_choice", "temperature", "top_p", "top_k",
    "stop_sequences", "stream", "metadata", "thinking", "service_tier", "output_config", "output_format",
    "container", "context_management", "mcp_servers", "inference_geo",
}
COUNT_FIELDS = {"model", "messages", "system", "tools", "tool_choice", "thinking", "output_config",
                "output_format", "context_management", "mcp_servers"}
BLOCK_TYPES = {"text", "image", "document", "tool_use", "tool_result", "thinking", "redacted_thinking",
               "search_result"}
TOOL_NAME = re.compile(r"^[a-zA-Z0-9_-]{1,128}$")
VERSION = re.compile(r"^\d{4}-\d{2}-\d{2}$")


def _content_errors(content: Any, where: str, role: str, previous_tool_ids: set[str]) -> list[str]:
    if isinstance(content, str):
        return [] if content else [f"{where}: text content must be non-empty"]
    if not isinstance(content, list) or not content:
        return [f"{where}: content must be a non-empty string or a list of content blocks"]
    errors = []
    for i, block in enumerate(content):
        at = f"{where}.content.{i}"
        if not isinstance(block, dict) or block.get("type") not in BLOCK_TYPES:
            errors.append(f"{at}: unknown content block {block!r:.80}")
            continue
        kind = block["type"]
        if kind == "text" and not isinstance(block.get("text"), str):
            errors.append(f"{at}.text: Field required")
        if kind == "tool_use":
            if role != "assistant":
                errors.append(f"{at}: tool_use blocks are only allowed in assistant messages")
            if not (isinstance(block.get("id"), str) and isinstance(block.get("name"), str)
                    and isinstance(block.get("input"), dict)):
                errors.append(f"{at}: tool_use needs id, name and an input object")
        if kind == "tool_result":
            if role != "user":
                errors.append(f"{at}: tool_result blocks are only allowed in user messages")
            if block.get("tool_use_id") not in previous_tool_ids:
                errors.append(f"{at}: tool_use_id {block.get('tool_use_id')!r} answers no tool_use of the "
                              "previous assistant message")
    return errors


def validate(path: str, headers: dict[str, str], body: Any) -> list[str]:
    """What is wrong with a request, as the API would say it; empty when it is well formed."""
    errors = []
    # The API takes the key as `x-api-key`; the SDK installed here sends it as a bearer token, which the
    # API accepts as well. Either way it must be the key the test set.
    bearer = headers.get("authorization", "")
    key = headers.get("x-api-key") or (bearer[len("Bearer "):] if bearer.startswith("Bearer ") else None)
    if key != API_KEY:
        errors.append("x-api-key: missing or not the key under test (nor an Authorization: Bearer key)")
    if not VERSION.match(headers.get("anthropic-version", "")):
        errors.append("anthropic-version: header required (YYYY-MM-DD)")
    if "application/json" not in headers.get("content-type", ""):
        errors.append("content-type: must be application/json")
    if not isinstance(body, dict):
        return errors + ["body: must be a JSON object"]
    count = path.endswith("/count_tokens")
    allowed = COUNT_FIELDS if count else MESSAGES_FIELDS
    errors += [f"{key}: Extra inputs are not permitted" for key in body if key not in allowed]
    if not isinstance(body.get("model"), str) or not body.get("model"):
        errors.append("model: Field required")
    if not count:
        if not isinstance(body.get("max_tokens"), int) or body["max_tokens"] < 1:
            errors.append("max_tokens: must be an integer >= 1")
        if body.get("stream"):
            errors.append("stream: this scripted server does not stream")
    messages = body.get("messages")
    if not isinstance(messages, list) or not messages:
        return errors + ["messages: must be a non-empty list"]
    if messages[0].get("role") != "user":
        errors.append("messages.0.role: the first message must use the user role")
    tool_ids: set[str] = set()
    for i, message in enumerate(messages):
        role = message.get("role") if isinstance(message, dict) else None
        if role not in ("user", "assistant"):
            errors.append(f"messages.{i}.role: must be 'user' or 'assistant' (system goes in 'system')")
            continue
        extra = set(message) - {"role", "content"}
        if extra:
            errors.append(f"messages.{i}: Extra inputs are not permitted: {sorted(extra)}")
        errors += _content_errors(message.get("content"), f"messages.{i}", role, tool_ids)
        content = message.get("content")
        tool_ids = {b["id"] for b in content if isinstance(b, dict) and b.get("type") == "tool_use"} \
            if isinstance(content, list) and role == "assistant" else set()
    if tool_ids:
        errors.append("messages: the last assistant message's tool_use blocks have no tool_result")
    system = body.get("system")
    if system is not None and not isinstance(system, str) and not (
            isinstance(system, list) and all(isinstance(b, dict) and b.get("type") == "text" for b in system)):
        errors.append("system: must be a string or a list of text blocks")
    for i, tool in enumerate(body.get("tools") or []):
        if not isinstance(tool, dict) or not TOOL_NAME.match(str(tool.get("name", ""))):
            errors.append(f"tools.{i}.name: must match {TOOL_NAME.pattern}")
            continue
        if "type" not in tool:  # a custom tool: server tools have a type and no schema
            schema = tool.get("input_schema")
            if not isinstance(schema, dict) or schema.get("type") != "object":
                errors.append(f"tools.{i}.input_schema: must be a JSON schema of type 'object'")
    choice = body.get("tool_choice")
    if choice is not None and (not isinstance(choice, dict) or choice.get("type") not in ("auto", "any", "tool",
                                                                                           "none")):
        errors.append("tool_choice: must be {type: auto|any|tool|none}")
    return errors


def estimate_tokens(payload: Any) -> int:
    """A deterministic stand-in for the tokenizer: about four characters a token."""
    return max(1, math.ceil(len(json.dumps(payload, ensure_ascii=False)) / 4))
