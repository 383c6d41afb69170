"""Specialists behind HTTP: an OpenAI-compatible chat-completions LLM, and a webhook.

:class:`LLMSpecialist` sends the solicitation as two chat messages (a fixed system message
saying the reply format, and a user message with the state's prompt, the allowed
transitions, the params and metadata, a bounded history summary and, for a vote, the
proposals and pairs), asks for a JSON object (``response_format``), and reads the reply
(``stream: true`` is read as server-sent events, chunk by chunk). Transport failures, 429
and 5xx answers are retried ``retries`` times with a short backoff, then raise
:class:`~dialoghub.errors.SpecialistFailed`; a reply that is no valid answer raises
:class:`~dialoghub.errors.InvalidAnswer`, which the driver records and asks again for.

:class:`WebhookSpecialist` POSTs the solicitation as JSON and reads the same reply format.

Everything read from the network is bounded (:data:`MAX_REPLY_BYTES`) before it is parsed.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Mapping
from dataclasses import asdict, replace
from typing import Any

import anyio
import httpx

from dialoghub.decision.specialists import (
    Answer,
    ProposalAnswer,
    Solicitation,
    VoteAnswer,
    parse_answer,
)
from dialoghub.errors import InvalidAnswer, SpecialistFailed

__all__ = ["MAX_REPLY_BYTES", "LLMSpecialist", "WebhookSpecialist", "build_messages"]

#: The most bytes of a reply that are read (an answer is a few hundred).
MAX_REPLY_BYTES = 1_000_000
#: How much of the params, metadata, and each proposal's reasoning goes into a prompt.
MAX_CONTEXT_CHARS = 4000

_SYSTEM = (
    "You are {id}, one specialist among several deciding the next transition of a state "
    "machine session. Read the instruction and the facts, then answer with ONE JSON object "
    'and nothing else. To propose: {{"transition": one of the allowed transitions, '
    '"reasoning": why, "params": an object (optional)}}. To vote: {{"votes": '
    '[{{"a": id, "b": id, "vote": "A" | "B" | "both" | "neither"}} for every '
    'pair asked], "reasoning": why}}.'
)


def _cut(value: Any, limit: int = MAX_CONTEXT_CHARS) -> str:
    text = value if isinstance(value, str) else json.dumps(value, default=str, sort_keys=True)
    return text if len(text) <= limit else text[:limit] + " …(cut)"


def build_messages(s: Solicitation, system: str | None = None) -> list[dict[str, str]]:
    """The chat messages for a solicitation (bounded whatever the session holds)."""
    lines = [
        f"Instruction: {s.prompt or '(none)'}",
        f"Current state: {s.state}",
        f"Allowed transitions: {', '.join(s.transitions)}",
        f"Params: {_cut(dict(s.params))}",
        f"Metadata: {_cut(dict(s.metadata), 2000)}",
    ]
    if s.history:
        past = "; ".join(
            f"{h.get('state')} -> {h.get('t')} ({h.get('source')})" for h in s.history[-5:]
        )
        lines.append(f"Earlier decisions: {past}")
    if s.kind == "proposal":
        lines.append("Propose the transition to take.")
    else:
        for p in s.proposals:
            lines.append(
                f"Proposal {p['id']}: {p.get('transition')} "
                f"(params {_cut(p.get('params') or {}, 1000)}) because "
                f"{_cut(p.get('reasoning') or '(no reasoning)', 1000)}"
            )
        lines.append("Compare each pair and vote: " + ", ".join(f"{a} vs {b}" for a, b in s.pairs))
    return [
        {"role": "system", "content": (system or _SYSTEM).format(id=s.specialist)},
        {"role": "user", "content": "\n".join(lines)},
    ]


def _json_of(text: str) -> Any:
    """The JSON object in a model's reply, fenced in ``` or not."""
    body = text.strip()
    if body.startswith("```"):
        body = body.strip("`")
        body = body[4:] if body.lower().startswith("json") else body
    start, end = body.find("{"), body.rfind("}")
    if start < 0 or end < start:
        raise InvalidAnswer(f"the reply holds no JSON object: {text[:200]!r}")
    try:
        return json.loads(body[start : end + 1])
    except json.JSONDecodeError as exc:
        raise InvalidAnswer(f"the reply's JSON does not parse: {exc}") from None


class _HTTPSpecialist:
    """Bounded retries of transport errors, 429 and 5xx, on one pooled client."""

    def __init__(
        self,
        id: str,
        url: str,
        *,
        timeout: float,
        retries: int,
        headers: Mapping[str, str] | None,
        client: httpx.AsyncClient | None,
    ) -> None:
        self.id = id
        self.url = url
        self.timeout = timeout
        self.retries = retries
        self.headers = dict(headers or {})
        self._client = client

    def client(self) -> httpx.AsyncClient:
        if self._client is None:
            self._client = httpx.AsyncClient(timeout=self.timeout)
        return self._client

    async def aclose(self) -> None:
        """Close the connection pool."""
        if self._client is not None:
            await self._client.aclose()
            self._client = None

    async def _post(self, url: str, body: Any, *, stream: bool = False) -> bytes:
        last = "no attempt"
        for attempt in range(self.retries + 1):
            if attempt:
                await anyio.sleep(min(0.05 * 2**attempt, 2.0))
            try:
                async with self.client().stream(
                    "POST", url, json=body, headers=self.headers, timeout=self.timeout
                ) as response:
                    data = bytearray()
                    async for chunk in response.aiter_bytes():
                        data += chunk
                        if len(data) > MAX_REPLY_BYTES:
                            raise InvalidAnswer(f"the reply is over {MAX_REPLY_BYTES} bytes")
                    if response.status_code == 429 or response.status_code >= 500:
                        last = f"HTTP {response.status_code}"
                        continue
                    if response.status_code >= 400:
                        raise SpecialistFailed(
                            f"{self.id}: {url} answered HTTP {response.status_code}: "
                            f"{bytes(data[:200]).decode(errors='replace')}",
                            specialist=self.id,
                        )
                    return bytes(data)
            except httpx.HTTPError as exc:
                last = f"{type(exc).__name__}: {exc}"
        raise SpecialistFailed(
            f"{self.id}: {url} failed {self.retries + 1} times ({last})", specialist=self.id
        )


class LLMSpecialist(_HTTPSpecialist):
    """An LLM behind an OpenAI-compatible ``POST {url}/chat/completions``."""

    def __init__(
        self,
        id: str,
        url: str,
        model: str,
        *,
        api_key: str | None = None,
        temperature: float = 0.0,
        max_tokens: int = 400,
        timeout: float = 30.0,
        retries: int = 2,
        system: str | None = None,
        cost_per_1k_tokens: float | None = None,
        stream: bool = False,
        client: httpx.AsyncClient | None = None,
    ) -> None:
        headers = {"Authorization": f"Bearer {api_key}"} if api_key else None
        super().__init__(
            id, url.rstrip("/"), timeout=timeout, retries=retries, headers=headers, client=client
        )
        self.model = model
        self.temperature = temperature
        self.max_tokens = max_tokens
        self.system = system
        self.cost_per_1k_tokens = cost_per_1k_tokens
        self.stream = stream

    @classmethod
    def from_options(cls, id: str, options: Mapping[str, Any]) -> LLMSpecialist:
        """From a model file's specialist options (``api_key_env`` names the variable)."""
        env = options.get("api_key_env")
        return cls(
            id,
            str(options["url"]),
            str(options.get("model", "gpt-4o-mini")),
            api_key=os.environ.get(str(env)) if env else None,
            temperature=float(options.get("temperature", 0.0)),
            max_tokens=int(options.get("max_tokens", 400)),
            timeout=float(options.get("timeout", 30.0)),
            retries=int(options.get("retries", 2)),
            system=options.get("system"),
            cost_per_1k_tokens=options.get("cost_per_1k_tokens"),
            stream=bool(options.get("stream", False)),
        )

    async def answer(self, solicitation: Solicitation) -> Answer:
        """Ask the model; the answer carries its tokens, latency and (if priced) cost."""
        body: dict[str, Any] = {
            "model": self.model,
            "messages": build_messages(solicitation, self.system),
            "temperature": self.temperature,
            "max_tokens": self.max_tokens,
            "response_format": {"type": "json_object"},
        }
        if self.stream:
            body["stream"] = True
            body["stream_options"] = {"include_usage": True}
        started = time.perf_counter()
        raw = await self._post(f"{self.url}/chat/completions", body, stream=self.stream)
        latency = time.perf_counter() - started
        content, tokens = self._read_stream(raw) if self.stream else self._read(raw)
        answer = parse_answer(_json_of(content), solicitation)
        cost = (
            tokens * self.cost_per_1k_tokens / 1000.0
            if tokens is not None and self.cost_per_1k_tokens is not None
            else None
        )
        return replace(answer, latency=round(latency, 6), tokens=tokens, cost=cost)

    @staticmethod
    def _read(raw: bytes) -> tuple[str, int | None]:
        try:
            data = json.loads(raw)
            content = data["choices"][0]["message"]["content"]
        except (ValueError, KeyError, IndexError, TypeError):
            raise InvalidAnswer(f"not a chat completion: {raw[:200]!r}") from None
        if not isinstance(content, str):
            raise InvalidAnswer("the completion has no text content")
        usage = data.get("usage") or {}
        return content, usage.get("total_tokens")

    @staticmethod
    def _read_stream(raw: bytes) -> tuple[str, int | None]:
        parts: list[str] = []
        tokens = None
        for line in raw.decode(errors="replace").splitlines():
            if not line.startswith("data:"):
                continue
            payload = line[5:].strip()
            if payload == "[DONE]":
                break
            try:
                chunk = json.loads(payload)
            except ValueError:
                raise InvalidAnswer(f"a stream chunk does not parse: {payload[:100]!r}") from None
            for choice in chunk.get("choices") or ():
                piece = (choice.get("delta") or {}).get("content")
                if isinstance(piece, str):
                    parts.append(piece)
            if chunk.get("usage"):
                tokens = chunk["usage"].get("total_tokens")
        return "".join(parts), tokens


class WebhookSpecialist(_HTTPSpecialist):
    """A specialist behind an HTTP POST: the solicitation as JSON in, the reply format out."""

    @classmethod
    def from_options(cls, id: str, options: Mapping[str, Any]) -> WebhookSpecialist:
        """From a model file's specialist options."""
        return cls(
            id,
            str(options["url"]),
            timeout=float(options.get("timeout", 30.0)),
            retries=int(options.get("retries", 2)),
            headers=options.get("headers"),
            client=None,
        )

    async def answer(self, solicitation: Solicitation) -> Answer:
        """POST the solicitation and read the reply."""
        body = asdict(solicitation)
        body["pairs"] = [list(p) for p in solicitation.pairs]
        started = time.perf_counter()
        raw = await self._post(self.url, body)
        latency = time.perf_counter() - started
        try:
            data = json.loads(raw)
        except ValueError:
            raise InvalidAnswer(f"the webhook's reply is not JSON: {raw[:200]!r}") from None
        answer = parse_answer(data, solicitation)
        if isinstance(data, dict) and isinstance(answer, ProposalAnswer | VoteAnswer):
            figures = {
                k: data[k] for k in ("cost", "tokens") if isinstance(data.get(k), int | float)
            }
            answer = replace(answer, latency=round(latency, 6), **figures)
        return answer
