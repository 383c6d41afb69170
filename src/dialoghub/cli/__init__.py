"""The ``dialoghub`` command line: the ``main`` group and the wiring of its commands.

One module per command group, each importing only :mod:`.common` (and, for ``chat`` and
``sessions``, :mod:`.remote`), never this package or each other:

- :mod:`.dialogs`: ``chat``, ``validate``, ``diagram``
- :mod:`.sessions`: ``sessions list / show / events``
- :mod:`.store`: ``store migrate``, ``sessions export / import``
- :mod:`.serve`: ``serve``; :mod:`.keys`: ``keys …`` (the server's dependencies are imported
  only when one of these runs)
- :mod:`.remote`: the ``--server URL`` variants of ``chat`` and ``sessions``

Every command reports a refused input or an invalid model as one clear message and a
non-zero exit status, never a traceback.
"""

from __future__ import annotations

import click

from dialoghub.cli import decisions, dialogs, keys, review, serve, sessions, store, talk

__all__ = ["main"]


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="dialoghub")
def main() -> None:
    """dialoghub: durable sessions for dialogs, assistants and review workflows."""


main.add_command(dialogs.chat)
main.add_command(dialogs.validate)
main.add_command(dialogs.diagram)
main.add_command(sessions.sessions)
sessions.sessions.add_command(store.export_sessions, "export")
sessions.sessions.add_command(store.import_sessions, "import")
main.add_command(serve.serve, "serve")
main.add_command(talk.talk, "talk")  # issue 13: a voice conversation from audio files
main.add_command(keys.keys, "keys")
main.add_command(store.store, "store")
main.add_command(decisions.decisions, "decisions")  # issue 10
main.add_command(review.review, "review")
