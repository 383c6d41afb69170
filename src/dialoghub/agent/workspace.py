"""The folder of each session's files: ``ROOT/<tenant>/<session id>/``.

Files given with a message (``{"name": ..., "path": ...}`` to copy or ``{"name": ...,
"content": ...}`` to write) land in the session's own folder, under a name that cannot leave
it: only the last part of the name is kept, and ``..``, ``.``, an empty name, an absolute
path, a NUL, or a source path that is a link are refused (:class:`~dialoghub.errors.
FileRefused`). A name already taken gets ``-1``, ``-2``... before its suffix. Each file is
bounded by ``max_file_bytes`` and the folder by ``max_session_bytes``
(:class:`~dialoghub.errors.FileTooLarge`); a file is written under a temporary name and
renamed, so a refused or failed file leaves nothing behind. The folder goes with the
session (:meth:`Workspace.remove`). This is blocking file I/O: the agent runs it in a thread.
"""

from __future__ import annotations

import os
import re
import shutil
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from dialoghub.errors import FileRefused, FileTooLarge

__all__ = ["MAX_FILES", "MAX_FILE_BYTES", "MAX_SESSION_BYTES", "Workspace"]

MAX_FILE_BYTES = 10 << 20  #: 10 MiB per file by default
MAX_SESSION_BYTES = 100 << 20  #: 100 MiB per session folder by default
MAX_FILES = 20  #: files in one message
_SAFE_PART = re.compile(r"^[A-Za-z0-9._-]{1,64}$")
_CHUNK = 1 << 16


def _safe_name(name: Any) -> str:
    if not isinstance(name, str) or not name or "\x00" in name or len(name) > 255:
        raise FileRefused(f"a file name must be 1 to 255 characters without NUL, not {name!r}")
    if name.startswith(("/", "\\")) or re.match(r"^[A-Za-z]:", name):
        raise FileRefused(f"file name {name!r} is an absolute path; give a plain name")
    parts = re.split(r"[/\\]", name)
    if any(p in ("..", ".") for p in parts):
        raise FileRefused(f"file name {name!r} leaves the session's folder")
    base = parts[-1]
    if not base:
        raise FileRefused(f"file name {name!r} has no name part")
    return base


class Workspace:
    """Session folders under ``root``, with size bounds."""

    def __init__(
        self,
        root: str | Path,
        *,
        max_file_bytes: int = MAX_FILE_BYTES,
        max_session_bytes: int = MAX_SESSION_BYTES,
    ) -> None:
        self.root = Path(root).resolve()
        self.max_file_bytes = max_file_bytes
        self.max_session_bytes = max_session_bytes

    def folder(self, tenant: str, session_id: str) -> Path:
        """The session's folder (not created). Tenants and session ids that are not plain
        file names are hashed into one, so no id can point outside ``root``."""
        parts = []
        for part in (tenant, session_id):
            if not _SAFE_PART.match(part) or part in (".", ".."):
                import hashlib

                part = "h-" + hashlib.sha256(part.encode()).hexdigest()[:32]
            parts.append(part)
        return self.root.joinpath(*parts)

    def used(self, tenant: str, session_id: str) -> int:
        """Bytes the session's folder holds."""
        folder = self.folder(tenant, session_id)
        if not folder.is_dir():
            return 0
        return sum(p.stat().st_size for p in folder.iterdir() if p.is_file())

    def check(
        self, tenant: str, session_id: str, files: list[Mapping[str, Any]]
    ) -> list[tuple[str, Path | None, bytes | None]]:
        """Every check :meth:`put` makes, without writing anything: the plan of what it
        would write (name, source path or content); FileRefused or FileTooLarge."""
        if not isinstance(files, list) or len(files) > MAX_FILES:
            raise FileRefused(f"files must be a list of at most {MAX_FILES} files")
        plans: list[tuple[str, Path | None, bytes | None]] = []
        total = 0
        for f in files:
            if not isinstance(f, Mapping) or not set(f) <= {"name", "path", "content"}:
                raise FileRefused("each file is {'name', 'path' | 'content'}")
            name = _safe_name(f.get("name"))
            src, content = f.get("path"), f.get("content")
            if (src is None) == (content is None):
                raise FileRefused(f"file {name!r} needs exactly one of 'path' and 'content'")
            if content is not None:
                data = content.encode() if isinstance(content, str) else content
                if not isinstance(data, bytes | bytearray):
                    raise FileRefused(f"the content of file {name!r} is not text or bytes")
                size = len(data)
                plans.append((name, None, bytes(data)))
            else:
                path = Path(str(src))
                if path.is_symlink():
                    raise FileRefused(f"file {name!r}: {src} is a link; links are refused")
                if not path.is_file():
                    raise FileRefused(f"file {name!r}: {src} is not a file")
                size = path.stat().st_size
                plans.append((name, path, None))
            if size > self.max_file_bytes:
                raise FileTooLarge(
                    f"file {name!r} is {size} bytes; the limit is {self.max_file_bytes}",
                    size=size,
                    limit=self.max_file_bytes,
                )
            total += size
        used = self.used(tenant, session_id)
        if used + total > self.max_session_bytes:
            raise FileTooLarge(
                f"the session's files would take {used + total} bytes; the limit is "
                f"{self.max_session_bytes}",
                size=used + total,
                limit=self.max_session_bytes,
            )
        return plans

    def put(self, tenant: str, session_id: str, files: list[Mapping[str, Any]]) -> list[str]:
        """Copy or write ``files`` into the session's folder; their paths there, in order.

        All files are checked before any is written (:meth:`check`); a failure midway
        removes the files of this call already written, so a refused call leaves the folder
        as it was."""
        plans = self.check(tenant, session_id, files)
        folder = self.folder(tenant, session_id)
        folder.mkdir(parents=True, exist_ok=True)
        written: list[Path] = []
        try:
            for name, src_path, data in plans:
                target = self._free(folder, name)
                tmp = folder / f".part-{os.getpid()}-{target.name}"
                if data is not None:
                    tmp.write_bytes(data)
                else:
                    assert src_path is not None
                    self._copy(src_path, tmp)
                os.replace(tmp, target)
                written.append(target)
        except BaseException:
            for path in written:
                path.unlink(missing_ok=True)
            for tmp in folder.glob(".part-*"):
                tmp.unlink(missing_ok=True)
            raise
        return [str(p) for p in written]

    def _copy(self, src: Path, dst: Path) -> None:
        # O_NOFOLLOW: a source swapped for a link after the check is refused, not followed.
        flags = os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0)
        try:
            fd = os.open(src, flags)
        except OSError as exc:
            raise FileRefused(f"cannot read {src}: {exc.strerror}") from None
        copied = 0
        with os.fdopen(fd, "rb") as inp, open(dst, "wb") as out:
            while chunk := inp.read(_CHUNK):
                copied += len(chunk)
                if copied > self.max_file_bytes:  # it grew since the check
                    raise FileTooLarge(
                        f"{src} is over {self.max_file_bytes} bytes", limit=self.max_file_bytes
                    )
                out.write(chunk)

    @staticmethod
    def _free(folder: Path, name: str) -> Path:
        """``name`` in ``folder``, or ``stem-1.suffix``, ``stem-2.suffix``... if taken."""
        target = folder / name
        if not target.exists() and not target.is_symlink():
            return target
        stem, dot, suffix = name.partition(".") if not name.startswith(".") else (name, "", "")
        n = 1
        while True:
            target = folder / f"{stem}-{n}{dot}{suffix}"
            if not target.exists() and not target.is_symlink():
                return target
            n += 1

    def write(self, tenant: str, session_id: str, name: str, data: bytes) -> str:
        """Write one artifact (a plugin's) into the session's folder; its path."""
        return self.put(tenant, session_id, [{"name": name, "content": data}])[0]

    def remove(self, tenant: str, session_id: str) -> bool:
        """Delete the session's folder; False if it had none."""
        folder = self.folder(tenant, session_id)
        if not folder.exists():
            return False
        shutil.rmtree(folder)
        return True
