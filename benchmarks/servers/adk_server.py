"""``adk api_server``'s FastAPI app under uvicorn, with the access log off.

``adk api_server`` builds its app with ``google.adk.cli.fast_api.get_fast_api_app`` and runs it
with ``uvicorn.Config(app, host, port, reload)``, which logs every request (uvicorn's access log
at INFO). This builds the same app with the same arguments the CLI passes (agents directory,
session service URI, in-memory artifacts so nothing is written beside the agent) and runs it
the same way without the access log, as the other servers run: the peer at its best.

Run: ``python -m benchmarks.servers.adk_server AGENTS_DIR SESSION_URI PORT``.
"""

from __future__ import annotations

import logging
import sys

import uvicorn
from google.adk.cli.fast_api import get_fast_api_app

__all__ = ["main"]


def main() -> None:
    """Serve the agents directory on 127.0.0.1:PORT."""
    agents_dir, session_uri, port = sys.argv[1], sys.argv[2], int(sys.argv[3])
    logging.getLogger("google_adk").setLevel(logging.WARNING)
    app = get_fast_api_app(
        agents_dir=agents_dir,
        session_service_uri=session_uri,
        artifact_service_uri="memory://",
        use_local_storage=False,
        web=False,
        host="127.0.0.1",
        port=port,
    )
    uvicorn.run(app, host="127.0.0.1", port=port, access_log=False, log_level="warning")


if __name__ == "__main__":
    main()
