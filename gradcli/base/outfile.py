"""Output files that are whole or untouched.

An output is written to a temporary file in the target's folder and moved over the target
(os.replace) only once it is complete: a full disk, a bad row halfway or an interrupted run leaves
the file that was there before, never half of a new one. A target that is not a regular file (a
device such as /dev/null or /dev/full, a named pipe) is written to directly.
"""

from __future__ import annotations

import os
import stat
import tempfile

from .errors import GradcliError


def write_error(where: str, exc: OSError) -> GradcliError:
    return GradcliError(f"cannot write {where}: {exc.strerror or exc}")


class AtomicFile:
    """`write` text (or bytes with binary=True), then `commit()`, or `discard()` on failure.
    Every OSError becomes a GradcliError "cannot write PATH: reason"."""

    def __init__(self, path: str, *, binary: bool = False) -> None:
        self.path = str(path)
        self._temp: str | None = None
        self._target = os.path.realpath(self.path)  # through a symlink, to the file it names
        try:
            try:
                info = os.stat(self._target)
            except FileNotFoundError:
                info = None
            if info is not None and not stat.S_ISREG(info.st_mode):
                self.handle = self._open_direct(binary)
                return
            try:
                fd, self._temp = tempfile.mkstemp(prefix=".gradcli-", suffix=".part",
                                                  dir=os.path.dirname(self._target))
            except PermissionError:
                if info is None:
                    raise
                # a writable file in a folder we may not create files in: overwrite it in place
                self.handle = self._open_direct(binary)
                return
            try:
                os.fchmod(fd, stat.S_IMODE(info.st_mode) if info is not None else 0o666 & ~_umask())
            except OSError:
                pass
            self.handle = os.fdopen(fd, "wb") if binary else \
                os.fdopen(fd, "w", encoding="utf-8", newline="")
        except OSError as exc:
            self._remove_temp()
            raise write_error(self.path, exc) from None

    def _open_direct(self, binary: bool):
        return open(self.path, "wb") if binary else open(self.path, "w", encoding="utf-8", newline="")

    def write(self, data) -> None:
        try:
            self.handle.write(data)
        except OSError as exc:
            self.discard()
            raise write_error(self.path, exc) from None

    def commit(self) -> None:
        try:
            self.handle.close()  # the last buffered bytes are written here: it can fail too
            if self._temp is not None:
                os.replace(self._temp, self._target)
                self._temp = None
        except OSError as exc:
            self.discard()
            raise write_error(self.path, exc) from None

    def discard(self) -> None:
        try:
            self.handle.close()
        except OSError:
            pass
        self._remove_temp()

    def _remove_temp(self) -> None:
        if self._temp is not None:
            try:
                os.unlink(self._temp)
            except OSError:
                pass
            self._temp = None


def write_whole(path: str, data, *, binary: bool = False) -> None:
    """Write all of `data` to `path`, or leave `path` as it was."""
    out = AtomicFile(path, binary=binary)
    out.write(data)
    out.commit()


def _umask() -> int:
    mask = os.umask(0o022)
    os.umask(mask)
    return mask
