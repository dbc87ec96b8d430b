"""The one adapter to an OpenAI-compatible chat endpoint (the only module importing `openai`).

Off unless OPENAI_API_KEY is set. Calls ask for structured output (a JSON schema) and return the
parsed JSON with token counts and an estimated cost; every failure becomes `LlmUnavailable`, so
callers fall back to the plain template and the product works without a model.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import openai

from core.config import Settings
from core.errors import LlmUnavailable

# USD per million tokens (input, output); unknown models are costed at the default.
PRICES_PER_MILLION: dict[str, tuple[float, float]] = {
    "gpt-4o-mini": (0.15, 0.60),
    "gpt-4o": (2.50, 10.00),
    "gpt-4.1-mini": (0.40, 1.60),
    "gpt-4.1": (2.00, 8.00),
}
DEFAULT_PRICE = (0.50, 1.50)


@dataclass(frozen=True)
class LlmReply:
    """A parsed structured answer and what it cost."""

    content: Any
    model: str
    prompt_tokens: int
    completion_tokens: int
    cost_micro_usd: int


@dataclass(frozen=True)
class ToolCall:
    """One call the model asks for: the tool's name and its arguments, parsed from JSON."""

    id: str
    name: str
    arguments: dict[str, Any]
    raw_arguments: str


@dataclass(frozen=True)
class ChatTurn(LlmReply):
    """A chat answer: text in `content` (str or None) and/or the tools the model wants called."""

    tool_calls: tuple[ToolCall, ...] = ()


def cost_micro_usd(model: str, prompt_tokens: int, completion_tokens: int) -> int:
    """Estimated cost in millionths of a dollar."""
    price_in, price_out = PRICES_PER_MILLION.get(model, DEFAULT_PRICE)
    return round(prompt_tokens * price_in + completion_tokens * price_out)


class LlmClient:
    """A small client for JSON-schema chat completions."""

    def __init__(
        self,
        api_key: str,
        *,
        model: str,
        base_url: str | None = None,
        timeout: float = 30.0,
    ) -> None:
        self.model = model
        self._client = openai.OpenAI(
            api_key=api_key, base_url=base_url, timeout=timeout, max_retries=1
        )

    def __repr__(self) -> str:
        return f"LlmClient(model={self.model!r})"

    def complete_json(self, system: str, user: str, schema: dict[str, Any]) -> LlmReply:
        """One chat completion constrained to `schema`; the reply parsed as JSON."""
        try:
            resp = self._client.chat.completions.create(
                model=self.model,
                messages=[
                    {"role": "system", "content": system},
                    {"role": "user", "content": user},
                ],
                response_format={
                    "type": "json_schema",
                    "json_schema": {
                        "name": "rewrite",
                        "schema": schema,
                        "strict": True,
                    },
                },
                temperature=0.2,
            )
        except openai.OpenAIError as exc:
            raise LlmUnavailable(f"the model endpoint failed ({type(exc).__name__})") from None
        try:
            text = resp.choices[0].message.content or ""
            content = json.loads(text)
        except (IndexError, AttributeError, json.JSONDecodeError):
            raise LlmUnavailable("the model did not answer with JSON") from None
        usage = resp.usage
        prompt = int(getattr(usage, "prompt_tokens", 0) or 0)
        completion = int(getattr(usage, "completion_tokens", 0) or 0)
        model = resp.model or self.model
        return LlmReply(
            content,
            model,
            prompt,
            completion,
            cost_micro_usd(model, prompt, completion),
        )

    def chat(
        self,
        messages: list[dict[str, Any]],
        tools: list[dict[str, Any]] | None = None,
    ) -> ChatTurn:
        """One chat completion that may call `tools` (OpenAI function-calling format).

        Tool arguments that are not a JSON object come back as an empty dict with the raw text
        kept, so the caller refuses them with a reason instead of crashing.
        """
        kwargs: dict[str, Any] = {"model": self.model, "messages": messages, "temperature": 0.0}
        if tools:
            kwargs["tools"] = tools
        try:
            resp = self._client.chat.completions.create(**kwargs)
            message = resp.choices[0].message
        except openai.OpenAIError as exc:
            raise LlmUnavailable(f"the model endpoint failed ({type(exc).__name__})") from None
        except (IndexError, AttributeError):
            raise LlmUnavailable("the model answered without a message") from None
        calls = []
        for call in message.tool_calls or ():
            raw = getattr(getattr(call, "function", None), "arguments", "") or ""
            try:
                args = json.loads(raw) if raw else {}
            except json.JSONDecodeError:
                args = {}
            calls.append(
                ToolCall(
                    str(call.id),
                    str(getattr(call.function, "name", "")),
                    args if isinstance(args, dict) else {},
                    raw,
                )
            )
        usage = resp.usage
        prompt = int(getattr(usage, "prompt_tokens", 0) or 0)
        completion = int(getattr(usage, "completion_tokens", 0) or 0)
        model = resp.model or self.model
        return ChatTurn(
            message.content,
            model,
            prompt,
            completion,
            cost_micro_usd(model, prompt, completion),
            tuple(calls),
        )


def client_from_settings(settings: Settings) -> LlmClient | None:
    """A client when OPENAI_API_KEY is set, else None (AI drafting off)."""
    if not settings.openai_api_key:
        return None
    return LlmClient(
        settings.openai_api_key.reveal(),
        model=settings.openai_model,
        base_url=settings.openai_base_url,
    )
