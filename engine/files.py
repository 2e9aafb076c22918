"""Files written whole or not at all: under a temporary name in the same folder, then renamed
(a set of files all at once, with Ctrl-C held back during the renames). Standard library only,
so that `koncept fmt` can use it without importing pandas."""

from __future__ import annotations

import contextlib
import errno
import os
import shutil
import signal
import tempfile
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import IO

__all__ = ["atomic_file", "atomic_files"]


@contextlib.contextmanager
def atomic_file(
    path: Path, newline: str | None = None, mode: int | None = None
) -> Iterator[IO[str]]:
    """A UTF-8 text stream that becomes `path` only when the block ends without error: it is
    written under a temporary name in the same folder, then renamed; on any error (or Ctrl-C)
    the temporary file is removed and `path` is left as it was."""
    with atomic_files(path.parent) as place:
        temporary = place(path.name)
        with temporary.open("w", encoding="utf-8", newline=newline) as stream:
            yield stream
        # The new file keeps the permissions of the one it replaces, or takes `mode`.
        if mode is not None:
            temporary.chmod(mode)
        elif path.exists():
            shutil.copymode(path, temporary)


@contextlib.contextmanager
def atomic_files(folder: Path) -> Iterator[Callable[[str], Path]]:
    """Write several files into `folder` as one set: `place(name)` gives the temporary path to
    write `name` at (in a hidden temporary folder inside `folder`); when the block ends
    without error every file is renamed to `folder/name`, with SIGINT held back during the
    renames. On any error (or Ctrl-C) the temporary folder goes and `folder` keeps what it had.
    """
    if folder.exists() and not folder.is_dir():
        raise NotADirectoryError(errno.ENOTDIR, "it is not a folder", str(folder))
    folder.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=".koncept-", dir=folder))
    names: list[str] = []

    def place(name: str) -> Path:
        names.append(name)
        return staging / name

    try:
        yield place
        with _sigint_held():
            for name in names:
                os.replace(staging / name, folder / name)
    finally:
        for leftover in staging.iterdir() if staging.exists() else ():
            with contextlib.suppress(OSError):
                leftover.unlink()
        with contextlib.suppress(OSError):
            staging.rmdir()


@contextlib.contextmanager
def _sigint_held() -> Iterator[None]:
    """Hold SIGINT back (delivered when the block ends): a few renames must all happen."""
    main = threading.current_thread() is threading.main_thread()
    if not main or not hasattr(signal, "pthread_sigmask"):
        yield
        return
    signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT})
    try:
        yield
    finally:
        signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGINT})
