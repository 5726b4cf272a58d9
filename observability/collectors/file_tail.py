"""Following a growing file like `tail -F`: complete new lines, across truncation and rotation."""

import os
from pathlib import Path
from typing import BinaryIO

_MAX_LINE = 64 * 1024


class FileTail:
    """New complete lines of `path` at each `read()`, at most `max_bytes` per call.

    A file that exists when the tail is made is followed from its end (history is not news);
    one that appears later is read from its start. A file that shrank was truncated: read
    again from its start. A path that now names another file was rotated: the old file is
    drained first, then the new one is read from its start.
    """

    def __init__(self, path: Path, *, from_start: bool = False, max_bytes: int = 256 * 1024):
        self.path, self.max_bytes = path, max_bytes
        self._handle: BinaryIO | None = None
        self._partial = b""
        self.truncations = self.rotations = 0
        if self._open() and not from_start:
            assert self._handle is not None
            self._handle.seek(0, os.SEEK_END)

    def _open(self) -> bool:
        try:
            self._handle = open(self.path, "rb")  # kept open between reads
        except FileNotFoundError:
            self._handle = None
            return False
        self._partial = b""
        return True

    def close(self) -> None:
        if self._handle is not None:
            self._handle.close()
            self._handle = None

    def read(self) -> list[str]:
        """The lines completed since the last call (a line over 64 KiB is cut into pieces)."""
        if self._handle is None and not self._open():
            return []
        assert self._handle is not None
        if os.fstat(self._handle.fileno()).st_size < self._handle.tell():
            self.truncations += 1
            self._handle.seek(0)
            self._partial = b""
        data = self._handle.read(self.max_bytes)
        if len(data) < self.max_bytes and self._rotated():
            lines = self._split(data, final=True)
            self.rotations += 1
            self.close()
            if self._open():
                lines += self.read()
            return lines
        return self._split(data, final=False)

    def _rotated(self) -> bool:
        """Whether the path is gone or names another file than the one we hold."""
        assert self._handle is not None
        try:
            st = os.stat(self.path)
        except FileNotFoundError:
            return True
        held = os.fstat(self._handle.fileno())
        return (st.st_ino, st.st_dev) != (held.st_ino, held.st_dev)

    def _split(self, data: bytes, *, final: bool) -> list[str]:
        chunks = (self._partial + data).split(b"\n")
        self._partial = b"" if final else chunks.pop()
        if len(self._partial) > _MAX_LINE:
            chunks.append(self._partial)
            self._partial = b""
        return [c.decode("utf-8", errors="replace").rstrip("\r") for c in chunks if c]
