"""A planner behind an OpenAI-compatible chat-completions endpoint, with tool calls.

Each step POSTs ``{base_url}/chat/completions`` with the conversation so far, the registered
plugins as tools, and ``"stream": true``; the answer is read as server-sent events (``data:
{json}`` lines, ending with ``data: [DONE]``). Content deltas stream to the user as the
reply's chunks; tool-call deltas are assembled by their ``index`` (the name arrives first,
the arguments in pieces); each complete call runs its plugin as one post and its result goes
back as a ``tool`` message; a step with no tool call ends the round with its content. The
answer is bounded (bytes, steps); an unreachable endpoint, an HTTP error, or an answer that
does not parse fails the round with a :class:`~dialoghub.errors.PlannerError`.
"""

from __future__ import annotations

import asyncio
import json
from typing import Any

from dialoghub.agent.execute import Turn
from dialoghub.errors import PlannerError

__all__ = ["LLMPlanner"]

#: The most bytes one streamed answer may hold.
MAX_ANSWER_BYTES = 4 << 20


class LLMPlanner:
    """Plans with an LLM: ``LLMPlanner("http://127.0.0.1:8080/v1", model="...")``."""

    def __init__(
        self,
        base_url: str,
        *,
        model: str,
        api_key: str | None = None,
        system: str = (
            "You are a helpful assistant. Use the tools when they help. Files the "
            "user gave are listed with their paths."
        ),
        max_steps: int = 8,
        timeout: float = 60.0,
        temperature: float | None = None,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.model = model
        self.api_key = api_key
        self.system = system
        self.max_steps = max_steps
        self.timeout = timeout
        self.temperature = temperature
        self._client: Any = None
        self._loop: asyncio.AbstractEventLoop | None = None

    def _http(self) -> Any:
        import httpx

        loop = asyncio.get_running_loop()
        if self._client is None or self._loop is not loop:
            self._client = httpx.AsyncClient(timeout=self.timeout)
            self._loop = loop
        return self._client

    async def aclose(self) -> None:
        """Close the pooled connections."""
        client, self._client = self._client, None
        if client is not None and self._loop is asyncio.get_running_loop():
            await client.aclose()

    def _messages(self, turn: Turn) -> list[dict[str, Any]]:
        messages: list[dict[str, Any]] = [{"role": "system", "content": self.system}]
        for past in turn.history:
            messages.append({"role": "user", "content": past.user_message})
            if past.reply:
                messages.append({"role": "assistant", "content": past.reply})
        text = turn.message
        if turn.files:
            text += "\n\nFiles:\n" + "\n".join(f"- {p}" for p in turn.files)
        messages.append({"role": "user", "content": text})
        return messages

    async def run(self, turn: Turn) -> str:
        """Ask, run the tools asked for, ask again, until an answer has no tool call."""
        messages = self._messages(turn)
        tools = turn.plugins.tools()
        for _ in range(self.max_steps):
            content, calls = await self._step(turn, messages, tools)
            if not calls:
                return content
            messages.append({"role": "assistant", "content": content or None, "tool_calls": calls})
            for call in calls:
                fn = call["function"]
                try:
                    args = json.loads(fn["arguments"] or "{}")
                except ValueError:
                    raise PlannerError(
                        f"the model called {fn['name']!r} with arguments "
                        f"that are not JSON: {fn['arguments'][:200]!r}"
                    ) from None
                if not isinstance(args, dict):
                    raise PlannerError(f"the model called {fn['name']!r} with {args!r}")
                result = await turn.call(fn["name"], args)
                messages.append(
                    {
                        "role": "tool",
                        "tool_call_id": call["id"],
                        "content": json.dumps(result, default=str),
                    }
                )
        raise PlannerError(f"the model still called tools after {self.max_steps} steps")

    async def _step(
        self, turn: Turn, messages: list[dict[str, Any]], tools: list[dict[str, Any]]
    ) -> tuple[str, list[dict[str, Any]]]:
        import httpx

        body: dict[str, Any] = {"model": self.model, "messages": messages, "stream": True}
        if tools:
            body["tools"] = tools
        if self.temperature is not None:
            body["temperature"] = self.temperature
        headers = {"Accept": "text/event-stream"}
        if self.api_key:
            headers["Authorization"] = f"Bearer {self.api_key}"
        content: list[str] = []
        calls: dict[int, dict[str, Any]] = {}
        try:
            async with self._http().stream(
                "POST", f"{self.base_url}/chat/completions", json=body, headers=headers
            ) as response:
                if response.status_code >= 400:
                    text = (await response.aread())[:500].decode(errors="replace")
                    raise PlannerError(
                        f"the LLM endpoint answered HTTP {response.status_code}: {text}"
                    )
                size = 0
                async for line in response.aiter_lines():
                    size += len(line)
                    if size > MAX_ANSWER_BYTES:
                        raise PlannerError(f"the LLM answer is over {MAX_ANSWER_BYTES} bytes")
                    if not line.startswith("data:"):
                        continue  # comments, event names, keep-alives
                    data = line[5:].strip()
                    if data == "[DONE]":
                        break
                    await self._delta(turn, data, content, calls)
        except httpx.HTTPError as exc:
            raise PlannerError(f"the LLM endpoint failed: {exc!r}") from None
        return "".join(content), [calls[i] for i in sorted(calls)]

    @staticmethod
    async def _delta(
        turn: Turn, data: str, content: list[str], calls: dict[int, dict[str, Any]]
    ) -> None:
        try:
            chunk = json.loads(data)
            choices = chunk.get("choices") or []
            delta = choices[0].get("delta") or {} if choices else {}
        except (ValueError, AttributeError, IndexError, TypeError):
            raise PlannerError(
                f"the LLM endpoint sent a chunk that does not parse: {data[:200]!r}"
            ) from None
        text = delta.get("content")
        if text:
            content.append(text)
            await turn.say(text)
        for tc in delta.get("tool_calls") or ():
            slot = calls.setdefault(
                int(tc.get("index", 0)),
                {"id": "", "type": "function", "function": {"name": "", "arguments": ""}},
            )
            if tc.get("id"):
                slot["id"] = tc["id"]
            fn = tc.get("function") or {}
            if fn.get("name"):
                slot["function"]["name"] += fn["name"]
            if fn.get("arguments"):
                slot["function"]["arguments"] += fn["arguments"]
