"""Save artifacts (the files a run left in ``out/``) under a local folder.

Paths come from the executor, but a client trusts no path: each must be a plain relative path that
stays inside the folder on any OS the client may run on. The rules are the TypeScript client's
``artifactSaver``: a name harmless on Linux (``..\\..\\x``, ``C:x``, ``.. ``) escapes the folder or
lands elsewhere on Windows, so it is refused everywhere.
"""

from __future__ import annotations

import ntpath
import os
import posixpath
import re
import sys
from typing import Callable, Optional, Union

from .errors import ErrorCode, ExecutorError
from .results import FilePart

# Windows device names: NUL, COM1.txt... open the device, not a file in the folder.
_WINDOWS_DEVICE = re.compile(r"^(con|prn|aux|nul|com[0-9¹²³]|lpt[0-9¹²³])(\..*)?$", re.IGNORECASE)
MAX_SEGMENT_BYTES = 255
MAX_PATH_BYTES = 3072


def relative_path_problem(p: str) -> Optional[str]:
    """Why ``p`` is not a plain relative path a task may name (the executor's rule); None when it is."""
    if not isinstance(p, str) or p == "":
        return "must be a non-empty string"
    if len(p) > 1024:
        return "must be at most 1024 characters"
    if "\0" in p:
        return "must not contain NUL bytes"
    if p.startswith("/"):
        return "must be relative: it must stay inside the working directory"
    segments = p.split("/")
    if ".." in segments:
        return 'must stay inside the working directory (no ".." segments)'
    if any(s in ("", ".") for s in segments):
        return 'must not contain empty or "." segments (one spelling per file)'
    if any(len(s.encode("utf-8", "surrogatepass")) > MAX_SEGMENT_BYTES for s in segments):
        return f"must have segments of at most {MAX_SEGMENT_BYTES} bytes (NAME_MAX)"
    if len(p.encode("utf-8", "surrogatepass")) > MAX_PATH_BYTES:
        return f"must be at most {MAX_PATH_BYTES} bytes"
    return None


def unsafe_artifact_path(p: str, platform: str = sys.platform) -> Optional[str]:
    """Why ``p`` is not safe to write under a local folder; None when it is."""
    if relative_path_problem(p) is not None:
        return "not a plain relative path"
    if "\\" in p:
        return "a backslash is a separator on Windows"
    # "C:x" is relative to drive C's current folder, wherever the saver writes.
    if re.match(r"^[A-Za-z]:", p):
        return "a drive letter on Windows"
    windows = platform == "win32"
    for seg in p.split("/"):
        # Windows drops trailing dots and spaces: ".. " and "..." become "..", "a." becomes "a".
        if seg.endswith((".", " ")):
            return "a segment ending in a dot or a space is renamed on Windows"
        if windows and ":" in seg:
            return "a colon names a drive or a stream on Windows"
        if windows and _WINDOWS_DEVICE.match(seg):
            return "a Windows device name"
    # And what either family of path functions makes of it must stay inside a folder.
    for paths, root, name in ((posixpath, "/r", "POSIX"), (ntpath, "C:\\r", "Windows")):
        inside = paths.relpath(paths.normpath(paths.join(root, p)), root)
        if inside in ("", ".") or inside.startswith("..") or paths.isabs(inside):
            return f"it leaves the folder ({name} paths)"
    return None


def _target(folder: Union[str, "os.PathLike[str]"], p: str) -> str:
    why = unsafe_artifact_path(p)
    if why is not None:
        raise ExecutorError(ErrorCode.ARTIFACT_PATH_REFUSED, f"refusing artifact path {p!r}: {why}")
    root = os.path.abspath(folder)
    target = os.path.abspath(os.path.join(root, p))
    # The last word: whatever this OS makes of the path, it must stay inside the folder.
    inside = os.path.relpath(target, root)
    if inside in ("", ".") or inside.startswith("..") or os.path.isabs(inside):
        raise ExecutorError(ErrorCode.ARTIFACT_PATH_REFUSED, f"refusing artifact path {p!r}: it leaves {root}")
    return target


def save_file(folder: Union[str, "os.PathLike[str]"], p: str, data: bytes, append: bool = False) -> str:
    """Write ``data`` as artifact ``p`` under ``folder`` (refusing unsafe paths); returns the file's path."""
    target = _target(folder, p)
    os.makedirs(os.path.dirname(target), exist_ok=True)
    with open(target, "ab" if append else "wb") as f:
        f.write(data)
    return target


def artifact_saver(folder: Union[str, "os.PathLike[str]"]) -> Callable[[FilePart], None]:
    """An ``on_file`` callback that writes each artifact under ``folder`` as its parts arrive."""

    def save(part: FilePart) -> None:
        save_file(folder, part.path, part.data, append=part.part > 1)

    return save
