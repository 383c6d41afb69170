"""The LLM planner against a local server that streams like chat-completions."""

from __future__ import annotations

import json

from dialoghub.agent import AgentApp, LLMPlanner, RoundStatus
from dialoghub.hub import Hub
from tests.agent.conftest import Collect, make_plugins
from tests.agent.llm_stub import StubLLM, serve


async def test_tool_calls_run_plugins_and_the_answer_streams() -> None:
    stub = StubLLM(
        [{"tool": "lookup", "args": {"city": "Paris"}}, {"text": "It is sunny in Paris."}]
    )
    async with serve(stub), Hub("memory://") as hub:
        planner = LLMPlanner(stub.url, model="stub-model", api_key="k")
        async with AgentApp(hub, planner=planner, plugins=make_plugins()) as app:
            session = await app.get_session()
            seen = Collect()
            rnd = await session.send_message("weather in Paris?", seen)
            await planner.aclose()
    assert rnd.status is RoundStatus.FINISHED
    assert rnd.reply == "It is sunny in Paris. "
    assert [p.send_from for p in rnd.posts] == ["lookup", "planner"]
    assert rnd.posts[0].args == {"city": "Paris"}
    chunks = [
        e.message
        for e in seen.events
        if e.type == "post_message" and e.post_id == rnd.posts[-1].id and e.message
    ]
    assert chunks == ["It ", "is ", "sunny ", "in ", "Paris. "]  # streamed as they came
    first, second = stub.requests
    assert first["stream"] is True and first["model"] == "stub-model"
    assert {t["function"]["name"] for t in first["tools"]} == {"lookup", "count", "explode"}
    lookup = next(t for t in first["tools"] if t["function"]["name"] == "lookup")
    assert lookup["function"]["parameters"]["required"] == ["city"]
    tool_msg = second["messages"][-1]
    assert tool_msg["role"] == "tool" and tool_msg["tool_call_id"] == "call_1"
    assert json.loads(tool_msg["content"])["forecast"] == "sunny"
    assert second["messages"][-2]["tool_calls"][0]["function"]["arguments"] == '{"city": "Paris"}'


async def test_files_and_history_reach_the_model(tmp_path: object) -> None:
    stub = StubLLM([{"text": "one"}, {"text": "two"}])
    async with serve(stub), Hub("memory://") as hub:
        planner = LLMPlanner(stub.url, model="m")
        async with AgentApp(hub, planner=planner, workspace=str(tmp_path)) as app:
            session = await app.get_session()
            await session.send_message("read it", files=[{"name": "a.csv", "content": "1"}])
            rnd = await session.send_message("again")
            await planner.aclose()
    assert rnd.reply == "two "
    first = stub.requests[0]["messages"][-1]["content"]
    assert "a.csv" in first and str(tmp_path) in first


async def test_an_endpoint_failure_fails_the_round() -> None:
    stub = StubLLM([])  # answers 500
    async with serve(stub), Hub("memory://") as hub:
        planner = LLMPlanner(stub.url, model="m")
        async with AgentApp(hub, planner=planner) as app:
            rnd = await (await app.get_session()).send_message("hi")
            await planner.aclose()
    assert rnd.status is RoundStatus.FAILED and "HTTP 500" in (rnd.error or "")
    # and an endpoint nobody listens on
    async with Hub("memory://") as hub:
        planner = LLMPlanner("http://127.0.0.1:9/v1", model="m", timeout=2)
        async with AgentApp(hub, planner=planner) as app:
            rnd = await (await app.get_session()).send_message("hi")
            await planner.aclose()
    assert rnd.status is RoundStatus.FAILED and "LLM endpoint failed" in (rnd.error or "")


async def test_a_tool_the_agent_lacks_fails_the_round() -> None:
    stub = StubLLM([{"tool": "nope", "args": {}}])
    async with serve(stub), Hub("memory://") as hub:
        planner = LLMPlanner(stub.url, model="m")
        async with AgentApp(hub, planner=planner, plugins=make_plugins()) as app:
            rnd = await (await app.get_session()).send_message("hi")
            await planner.aclose()
    assert rnd.status is RoundStatus.FAILED and "no plugin 'nope'" in (rnd.error or "")
