"""Content-addressed blob files for texts too large to keep inline in a tree.

A huge observation (a 100 MB log dump) is stored once, under its sha256, and the tree keeps its head and tail. The
end of a text is where failures show, so elision always keeps both ends.
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

from codetracer.core.model import Text

INLINE_LIMIT = 64 * 1024
"""Texts up to this many characters stay whole in the tree."""

EDGE = 16 * 1024
"""Characters kept inline from each end of an elided text."""


class BlobStore:
    """Blob files under ``root/ab/cdef...``; writes are atomic (temp file + rename) and idempotent."""

    def __init__(self, root: Path) -> None:
        self.root = Path(root)

    def path_of(self, digest: str) -> Path:
        return self.root / digest[:2] / digest[2:]

    def put(self, text: str) -> str:
        data = text.encode("utf-8", "surrogatepass")
        digest = hashlib.sha256(data).hexdigest()
        target = self.path_of(digest)
        if not target.exists():
            target.parent.mkdir(parents=True, exist_ok=True)
            tmp = target.with_name(f"{target.name}.{os.getpid()}.tmp")
            tmp.write_bytes(data)
            os.replace(tmp, target)
        return digest

    def get(self, digest: str) -> str:
        try:
            return self.path_of(digest).read_bytes().decode("utf-8", "surrogatepass")
        except FileNotFoundError:
            raise KeyError(f"blob {digest} is missing from {self.root}") from None


def make_text(value: str, blobs: BlobStore | None, limit: int = INLINE_LIMIT) -> Text:
    """Wrap ``value`` as a :class:`Text`, eliding its middle into a blob when it exceeds ``limit``.

    Without a blob store nothing is elided: losing the middle of a text is never an option.
    """
    size = len(value)
    if size <= limit or blobs is None:
        return Text(text=value, size=size)
    digest = blobs.put(value)
    hidden = size - 2 * EDGE
    marker = f"\n[... {hidden} characters elided; whole text in blob {digest[:12]} ...]\n"
    return Text(text=value[:EDGE] + marker + value[-EDGE:], size=size, blob=digest)
