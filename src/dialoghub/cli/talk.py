"""``dialoghub talk MODEL --in FILE... --out DIR``: a voice conversation from audio files.

Each ``--in`` file (WAV of any rate, FLAC, anything SoX reads) is one user turn: it is
recognised with the domain LM of the state the session rests in (:mod:`dialoghub.voice`),
the transcript updates the session as an ASR result, and the actions are printed; each reply
is synthesised (espeak-ng) into ``DIR/reply-NN.wav``. Command actions are answered by
``--plugins`` (as ``dialoghub chat`` does) or, without one, with an error the dialog handles.
The session lives in memory. The voice modules are imported only when the command runs.
"""

from __future__ import annotations

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
def talk(
    model: str,
    inputs: tuple[str, ...],
    out_dir: str | None,
    plugins: str | None,
    wake_word: str | None,
    sample_rate: int,
) -> None:
    """Talk to a model with audio files: recognise each turn, print the actions, speak the
    replies."""
    if not inputs:
        raise click.UsageError(
            "pass the user's turns as audio files with --in FILE (no microphone is read)"
        )
    try:
        run(_talk(model, inputs, out_dir, plugins, wake_word, sample_rate))
    except click.ClickException:
        raise
    except Exception as exc:
        raise fail(exc) from None


async def _talk(
    model_path: str,
    inputs: tuple[str, ...],
    out_dir: str | None,
    plugins: str | None,
    wake_word: str | None,
    sample_rate: int,
) -> None:
    from dialoghub.agent import call_plugin, load_plugins
    from dialoghub.engine.records import ASR, CommandAction, CommandResult, EndAction, Reply
    from dialoghub.hub import Hub
    from dialoghub.voice.audio import AudioFormat, convert_file, pcm_to_wav
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
            for path in inputs:
                if isinstance(last, EndAction):
                    click.echo(f"(the session ended; {path} and the rest are not used)")
                    break
                # A file is a whole turn: silence around it, as a microphone would hear it,
                # so the endpointer sees the speech start and end.
                pad = bytes(2 * 16000 * 3 // 10)
                pcm = pad + convert_file(path) + pad
                session = await hub.get_session(sid)
                stream = await voice.asr(model, session, AudioFormat())
                for i in range(0, len(pcm), 3200):
                    await voice.feed(stream, pcm[i : i + 3200])
                    if stream.done is not None:
                        break
                final = await voice.end(stream, session)
                if final.timed_out or not final.text:
                    click.echo(f"you ({Path(path).name}): (nothing heard)")
                    continue
                click.echo(
                    f"you ({Path(path).name}): {final.text}  [confidence {final.confidence:.2f}]"
                )
                view = await hub.update(sid, ASR(text=final.text, confidence=final.confidence))
                last = await handle(view)
    finally:
        voice.close()


def _fields(action: Any) -> str:
    import msgspec

    data = msgspec.to_builtins(action)
    return ", ".join(f"{k}={v!r}" for k, v in data.items() if k != "type")
