"""``dialoghub talk MODEL``: a voice conversation from audio files or a microphone.

Each ``--in`` file (WAV of any rate, FLAC, anything SoX reads) is one user turn; with
``--mic`` the turns are the utterances heard on the microphone, one after another, each ended
by the voice-activity endpointer, until the session ends, the capture ends or Ctrl-C. The
microphone is a capture program whose standard output is raw 16 kHz 16-bit mono PCM:
ALSA's ``arecord`` when it is installed, else SoX's default input device (``sox -d``), or any
``--mic-command`` (PulseAudio's ``parec``, a remote stream, a file played in real time). A
turn is recognised with the domain LM of the state the session rests in
(:mod:`dialoghub.voice`), the transcript updates the session as an ASR result, and the
actions are printed; each reply is synthesised (espeak-ng) into ``DIR/reply-NN.wav``.
Command actions are answered by ``--plugins`` (as ``dialoghub chat`` does) or, without one,
with an error the dialog handles. The session lives in memory. The voice modules are
imported only when the command runs.
"""

from __future__ import annotations

import asyncio
import contextlib
import shlex
import shutil
from collections.abc import AsyncGenerator
from pathlib import Path
from typing import Any

import click

from dialoghub.cli.common import fail, run

__all__ = ["talk"]


@click.command()
@click.argument("model", type=click.Path(exists=True))
@click.option(
    "--in",
    "inputs",
    multiple=True,
    type=click.Path(exists=True, dir_okay=False),
    help="An audio file: one user turn (repeatable, in order).",
)
@click.option(
    "--out",
    "out_dir",
    type=click.Path(file_okay=False),
    help="Folder for the replies' audio (reply-01.wav, ...); default: not written.",
)
@click.option("--plugins", help="Python file or module whose functions answer commands.")
@click.option("--wake-word", help="The session's wake word (for states that require one).")
@click.option(
    "--sample-rate",
    type=int,
    default=16000,
    show_default=True,
    help="Sample rate of the replies' audio.",
)
@click.option("--mic", is_flag=True, help="Listen to the microphone: each utterance is a turn.")
@click.option(
    "--mic-command",
    help="The capture program for --mic: it writes raw 16 kHz 16-bit mono PCM to its "
    "standard output (default: arecord, else sox -d).",
)
def talk(
    model: str,
    inputs: tuple[str, ...],
    out_dir: str | None,
    plugins: str | None,
    wake_word: str | None,
    sample_rate: int,
    mic: bool,
    mic_command: str | None,
) -> None:
    """Talk to a model with audio files or the microphone: recognise each turn, print the
    actions, speak the replies."""
    if mic_command and not mic:
        mic = True
    if mic and inputs:
        raise click.UsageError("give the turns as files (--in) or from the microphone (--mic)")
    if not inputs and not mic:
        raise click.UsageError(
            "pass the user's turns as audio files with --in FILE, or listen with --mic"
        )
    capture = _capture_command(mic_command) if mic else None
    try:
        run(_talk(model, inputs, capture, out_dir, plugins, wake_word, sample_rate))
    except click.ClickException:
        raise
    except Exception as exc:
        raise fail(exc) from None


#: 100 ms of 16 kHz 16-bit mono: the chunk a turn is fed in, from a file or the microphone
_CHUNK = 3200


def _capture_command(given: str | None) -> list[str]:
    """The microphone's capture program as argv: ``given``, else arecord, else SoX."""
    if given:
        argv = shlex.split(given)
        if not argv:
            raise click.UsageError("--mic-command is empty")
        return argv
    if shutil.which("arecord"):
        return ["arecord", "-q", "-t", "raw", "-f", "S16_LE", "-r", "16000", "-c", "1"]
    if shutil.which("sox"):
        return ["sox", "-q", "-d", "-t", "raw", "-r", "16000", "-b", "16", "-c", "1",
                "-e", "signed-integer", "-L", "-"]  # fmt: skip
    raise click.UsageError(
        "no capture program for --mic: install alsa-utils (arecord) or sox, or name one "
        "with --mic-command"
    )


async def _file_chunks(path: str) -> AsyncGenerator[bytes, None]:
    """A file as one turn, in chunks, with silence around it as a microphone would hear it
    (so the endpointer sees the speech start and end)."""
    from dialoghub.voice.audio import convert_file

    pad = bytes(2 * 16000 * 3 // 10)
    pcm = pad + convert_file(path) + pad
    for i in range(0, len(pcm), _CHUNK):
        yield pcm[i : i + _CHUNK]


class _Microphone:
    """The capture program's standard output, read in chunks across turns."""

    def __init__(self, argv: list[str]) -> None:
        self.argv = argv
        self.proc: asyncio.subprocess.Process | None = None
        self.ended = False

    async def __aenter__(self) -> _Microphone:
        try:
            self.proc = await asyncio.create_subprocess_exec(
                *self.argv,
                stdin=asyncio.subprocess.DEVNULL,
                stdout=asyncio.subprocess.PIPE,
                stderr=asyncio.subprocess.PIPE,
            )
        except OSError as exc:
            raise click.ClickException(f"the microphone could not be opened: {exc}") from None
        return self

    async def __aexit__(self, *exc: object) -> None:
        proc = self.proc
        if proc is not None and proc.returncode is None:
            proc.terminate()
        if proc is not None:
            # Its pipes read to their end, not only its exit awaited: the transport closes
            # once they have, on this loop (see voice.tts).
            await proc.communicate()

    async def chunks(self) -> AsyncGenerator[bytes, None]:
        """The next chunks, until the caller stops taking them or the capture ends."""
        assert self.proc is not None and self.proc.stdout is not None
        while True:
            chunk = await self.proc.stdout.read(_CHUNK)
            if not chunk:
                self.ended = True
                await self._check()
                return
            yield chunk

    async def _check(self) -> None:
        """A capture program that failed is an error, with what it said."""
        assert self.proc is not None and self.proc.stderr is not None
        said = (await self.proc.stderr.read()).decode(errors="replace").strip()
        code = await self.proc.wait()
        if code != 0:
            raise click.ClickException(
                f"the microphone could not be read ({self.argv[0]} exited with {code}"
                + (f": {said.splitlines()[-1]}" if said else "") + ")"
            )


async def _talk(
    model_path: str,
    inputs: tuple[str, ...],
    capture: list[str] | None,
    out_dir: str | None,
    plugins: str | None,
    wake_word: str | None,
    sample_rate: int,
) -> None:
    from dialoghub.agent import call_plugin, load_plugins
    from dialoghub.engine.records import ASR, CommandAction, CommandResult, EndAction, Reply
    from dialoghub.hub import Hub
    from dialoghub.voice.audio import AudioFormat, pcm_to_wav
    from dialoghub.voice.service import Voice
    from dialoghub.voice.tts import synthesize

    commands = load_plugins(plugins) if plugins else {}
    out = Path(out_dir) if out_dir else None
    if out is not None:
        out.mkdir(parents=True, exist_ok=True)
    voice = Voice()
    replies = 0

    async def handle(view: Any) -> Any:
        """Print the actions, speak the replies, answer commands; the last action."""
        nonlocal replies
        while True:
            for action in view.actions:
                if isinstance(action, Reply):
                    click.echo(f"dialoghub: {action.text}")
                    if out is not None:
                        replies += 1
                        pcm = await synthesize(
                            voice.synthesizer, action.text, sample_rate=sample_rate
                        )
                        path = out / f"reply-{replies:02d}.wav"
                        path.write_bytes(pcm_to_wav(pcm, sample_rate))
                        click.echo(f"  (audio: {path})")
                else:
                    click.echo(f"  [{type(action).__name__}] {_fields(action)}")
            last = view.actions[-1]
            if not isinstance(last, CommandAction):
                return last
            fn = commands.get(last.id)
            outputs: dict[str, Any] = {}
            error: str | None = f"no plugin answers command {last.id!r}"
            if fn is not None:
                outputs, error = await call_plugin(fn, last)
            click.echo(f"  -> {last.id}: {outputs or error}")
            view = await hub.update(
                view.session.id, CommandResult(id=last.id, outputs=outputs, error=error)
            )

    try:
        async with Hub("memory://") as hub:
            model = hub.load_models(model_path)[0]
            view = await hub.create_session(
                model.id, metadata={"wake_word": wake_word} if wake_word else None
            )
            sid = view.session.id
            last = await handle(view)

            async def turn(chunks: AsyncGenerator[bytes, None], name: str) -> None:
                """One user turn from ``chunks``: recognised, then the session updated."""
                nonlocal last
                session = await hub.get_session(sid)
                stream = await voice.asr(model, session, AudioFormat())
                async with contextlib.aclosing(chunks):
                    async for chunk in chunks:
                        await voice.feed(stream, chunk)
                        if stream.done is not None:
                            break
                final = await voice.end(stream, session)
                if final.timed_out or not final.text:
                    click.echo(f"you ({name}): (nothing heard)")
                    return
                click.echo(f"you ({name}): {final.text}  [confidence {final.confidence:.2f}]")
                view = await hub.update(sid, ASR(text=final.text, confidence=final.confidence))
                last = await handle(view)

            if capture is not None:
                async with _Microphone(capture) as microphone:
                    click.echo("(listening: speak; Ctrl-C to stop)")
                    while not isinstance(last, EndAction) and not microphone.ended:
                        await turn(microphone.chunks(), "microphone")
                    if microphone.ended and not isinstance(last, EndAction):
                        click.echo("(the microphone's input ended)")
            for path in inputs:
                if isinstance(last, EndAction):
                    click.echo(f"(the session ended; {path} and the rest are not used)")
                    break
                await turn(_file_chunks(path), Path(path).name)
    finally:
        voice.close()


def _fields(action: Any) -> str:
    import msgspec

    data = msgspec.to_builtins(action)
    return ", ".join(f"{k}={v!r}" for k, v in data.items() if k != "type")
