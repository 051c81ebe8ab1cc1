"""Writing a file so that readers see the old content or the new, never half of it: the text
goes to a temporary file in the same folder, which then replaces the target with one rename.

A crash of pegload (or a full disk) mid-write leaves at most a ``.<name>.<pid>.tmp`` file
behind, never a truncated report file. (Surviving a power cut would also need fsync; reports
are not worth the cost.)
"""
from __future__ import annotations

import os
from pathlib import Path


def atomic_write_text(path: str | Path, text: str) -> Path:
    """Write ``text`` (UTF-8) to ``path`` atomically; returns ``path`` as a Path."""
    target = Path(path)
    tmp = target.with_name(f".{target.name}.{os.getpid()}.tmp")
    try:
        with open(tmp, "w", encoding="utf-8") as f:
            f.write(text)
        os.replace(tmp, target)
    except BaseException:
        try:
            tmp.unlink()
        except OSError:
            pass
        raise
    return target
