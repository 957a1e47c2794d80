"""Moving files so that a crash leaves each one in exactly one place."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path


def fsync_dir(folder: Path) -> None:
    """Make a rename in ``folder`` durable (a no-op where directories cannot be opened: Windows)."""
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def free_name(folder: Path, name: str) -> Path:
    """``folder/name``, or ``folder/stem.2.ext`` ... if that is taken: nothing is overwritten."""
    target = folder / name
    stem, dot, suffix = name.partition(".")
    n = 2
    while target.exists() or target.with_name(target.name + ".reason.txt").exists():
        target = folder / f"{stem}.{n}{dot}{suffix}"
        n += 1
    return target


def move(source: Path, target: Path) -> Path:
    """Atomically move ``source`` to ``target`` (same filesystem) and sync both folders."""
    target.parent.mkdir(parents=True, exist_ok=True)
    os.replace(source, target)
    fsync_dir(target.parent)
    if source.parent != target.parent:
        fsync_dir(source.parent)
    return target


def write_atomic(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` through a temporary file and a rename: readers never see half."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    with open(tmp, "wb") as fh:
        fh.write(data)
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, path)
    fsync_dir(path.parent)


def sha256_file(path: Path) -> str:
    """The file's sha256, read in 1 MiB chunks (statements can be hundreds of megabytes)."""
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        while chunk := fh.read(1 << 20):
            digest.update(chunk)
    return digest.hexdigest()
