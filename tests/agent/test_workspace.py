"""Files given with a message: into the session's own folder, bounded, never outside it."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from dialoghub.agent import AgentApp, RoundStatus, Workspace
from dialoghub.errors import FileRefused, FileTooLarge
from dialoghub.hub import Hub
from tests.agent.conftest import make_planner, make_plugins


def test_files_land_in_one_folder_per_tenant_and_session(tmp_path: Path) -> None:
    ws = Workspace(tmp_path / "ws")
    src = tmp_path / "report.csv"
    src.write_text("a,b\n")
    paths = ws.put(
        "acme",
        "s1",
        [{"name": "report.csv", "path": str(src)}, {"name": "notes.txt", "content": "hello"}],
    )
    assert paths == [
        str(tmp_path / "ws" / "acme" / "s1" / "report.csv"),
        str(tmp_path / "ws" / "acme" / "s1" / "notes.txt"),
    ]
    assert Path(paths[1]).read_text() == "hello"
    assert ws.folder("other", "s1") != ws.folder("acme", "s1")


def test_collisions_get_a_predictable_name(tmp_path: Path) -> None:
    ws = Workspace(tmp_path)
    names = [
        Path(p).name
        for p in ws.put(
            "t",
            "s",
            [
                {"name": "a.txt", "content": "1"},
                {"name": "a.txt", "content": "2"},
                {"name": "dir/a.txt", "content": "3"},
                {"name": "noext", "content": "4"},
                {"name": "noext", "content": "5"},
            ],
        )
    ]
    assert names == ["a.txt", "a-1.txt", "a-2.txt", "noext", "noext-1"]


@pytest.mark.parametrize(
    "name",
    [
        "../evil",
        "a/../../evil",
        "/etc/passwd",
        "..",
        ".",
        "",
        "C:\\evil",
        "\\\\server\\x",
        "a\x00b",
        "dir/",
        "x" * 300,
    ],
)
def test_names_that_could_escape_are_refused(tmp_path: Path, name: str) -> None:
    ws = Workspace(tmp_path / "ws")
    with pytest.raises(FileRefused):
        ws.put("t", "s", [{"name": name, "content": "x"}])
    assert not (tmp_path / "evil").exists()
    assert not (tmp_path / "ws").exists() or not any((tmp_path / "ws").rglob("*evil*"))


def test_ids_that_are_not_plain_names_cannot_point_outside(tmp_path: Path) -> None:
    ws = Workspace(tmp_path / "ws")
    for tenant, sid in (("..", "s"), ("t", "../../x"), ("t/u", "s")):
        folder = ws.folder(tenant, sid)
        assert folder.is_relative_to(tmp_path / "ws") and ".." not in folder.parts


def test_links_and_missing_sources_are_refused(tmp_path: Path) -> None:
    ws = Workspace(tmp_path / "ws")
    secret = tmp_path / "secret"
    secret.write_text("s")
    link = tmp_path / "link"
    os.symlink(secret, link)
    with pytest.raises(FileRefused, match="link"):
        ws.put("t", "s", [{"name": "x", "path": str(link)}])
    with pytest.raises(FileRefused):
        ws.put("t", "s", [{"name": "x", "path": str(tmp_path / "missing")}])
    with pytest.raises(FileRefused):
        ws.put("t", "s", [{"name": "x", "path": str(secret), "content": "both"}])
    with pytest.raises(FileRefused):
        ws.put("t", "s", [{"name": "x"}])
    with pytest.raises(FileRefused):
        ws.put("t", "s", [{"name": "x", "content": 42}])  # type: ignore[dict-item]


def test_size_limits_per_file_and_per_session(tmp_path: Path) -> None:
    ws = Workspace(tmp_path, max_file_bytes=10, max_session_bytes=25)
    with pytest.raises(FileTooLarge):
        ws.put("t", "s", [{"name": "big", "content": "x" * 11}])
    ws.put("t", "s", [{"name": "a", "content": "x" * 10}, {"name": "b", "content": "x" * 10}])
    with pytest.raises(FileTooLarge):  # 20 + 10 > 25: refused whole, nothing written
        ws.put("t", "s", [{"name": "c", "content": "x" * 5}, {"name": "d", "content": "x" * 5}])
    assert sorted(p.name for p in ws.folder("t", "s").iterdir()) == ["a", "b"]


async def test_a_round_tells_the_planner_and_plugins_where_the_files_are(tmp_path: Path) -> None:
    async with (
        Hub("memory://") as hub,
        AgentApp(hub, planner=make_planner(), plugins=make_plugins(), workspace=tmp_path) as app,
    ):
        session = await app.get_session()
        rnd = await session.send_message(
            "which files?", files=[{"name": "data.csv", "content": "1,2"}]
        )
        assert rnd.reply == "files: data.csv"
        assert rnd.files == [str(session.workspace / "data.csv")]
        assert (await session.variables())["files"] == rnd.files  # plugins read it too
        # a refused file refuses the message: no round, nothing written
        with pytest.raises(FileRefused):
            await session.send_message("files", files=[{"name": "../x", "content": "1"}])
        assert len(await session.rounds()) == 1


async def test_the_folder_goes_with_the_session(tmp_path: Path) -> None:
    async with (
        Hub("memory://") as hub,
        AgentApp(hub, planner=make_planner(), plugins=make_plugins(), workspace=tmp_path) as app,
    ):
        one = await app.get_session()
        two = await app.get_session()
        for s in (one, two):
            await s.send_message("files", files=[{"name": "f", "content": "x"}])
        assert one.workspace is not None and one.workspace.is_dir()
        await app.delete_session(one.id)
        assert not one.workspace.exists()
        # retention: an ended session purged takes its folder with it
        await hub.end_session(two.id)
        assert await app.purge(older_than=0) == 1
        assert two.workspace is not None and not two.workspace.exists()


async def test_a_plugin_attaches_a_file_into_the_workspace(tmp_path: Path) -> None:
    from typing import Any

    from dialoghub.agent import Plugins, RulePlanner

    plugins = Plugins()

    @plugins.register()
    def chart(ctx: Any) -> str:
        return ctx.attach_file("chart.svg", "<svg/>").path

    planner = RulePlanner()

    async def draw(turn: Any, m: Any) -> str:
        return str(await turn.call("chart"))

    planner.add("draw", draw)
    async with (
        Hub("memory://") as hub,
        AgentApp(hub, planner=planner, plugins=plugins, workspace=tmp_path) as app,
    ):
        rnd = await (await app.get_session()).send_message("draw")
    assert rnd.status is RoundStatus.FINISHED
    assert open(rnd.reply or "").read() == "<svg/>"  # noqa: ASYNC230, SIM115
    assert rnd.posts[0].attachments[0].type == "file"
