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
import warnings
from typing import Callable, List, Optional, Union

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
    """Write ``data`` as artifact ``p`` under ``folder``; returns the file's path.

    Unsafe paths are refused (EXEC_ERR_ARTIFACT_PATH_REFUSED), and so is a path through a link
    already in the folder: nothing is written through one, so a link someone left in the folder
    cannot send an artifact elsewhere. An existing file of that name is replaced.
    """
    target = _target(folder, p)
    root = os.path.abspath(folder)
    os.makedirs(root, exist_ok=True)
    if os.open not in os.supports_dir_fd or not hasattr(os, "O_NOFOLLOW"):
        # No descriptor-relative calls here (Windows): the path checks above are what there is.
        os.makedirs(os.path.dirname(target), exist_ok=True)
        with open(target, "ab" if append else "wb") as f:
            f.write(data)
        return target
    segments = p.split("/")
    fd = os.open(root, os.O_RDONLY | os.O_DIRECTORY)
    try:
        for seg in segments[:-1]:
            try:
                os.mkdir(seg, 0o777, dir_fd=fd)
            except FileExistsError:
                pass
            try:
                inner = os.open(seg, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW, dir_fd=fd)
            except OSError as err:
                raise ExecutorError(ErrorCode.ARTIFACT_PATH_REFUSED, f"refusing artifact path {p!r}: {seg!r} in {root} is not a folder of its own ({err.strerror})") from err
            os.close(fd)
            fd = inner
        flags = os.O_WRONLY | os.O_CREAT | os.O_NOFOLLOW | (os.O_APPEND if append else os.O_TRUNC)
        try:
            out = os.open(segments[-1], flags, 0o644, dir_fd=fd)
        except OSError as err:
            raise ExecutorError(ErrorCode.ARTIFACT_PATH_REFUSED, f"refusing artifact path {p!r}: cannot write it in {root} ({err.strerror})") from err
        with os.fdopen(out, "wb") as f:
            f.write(data)
    finally:
        os.close(fd)
    return target


def _refused(err: ExecutorError) -> None:
    warnings.warn(f"{err} (skipped)", ArtifactSkipped, stacklevel=3)


class ArtifactSkipped(UserWarning):
    """An artifact was not saved (its path was refused); the run's result is not affected."""


def save_files(folder: Union[str, "os.PathLike[str]"], files: "dict[str, bytes]") -> List[str]:
    """Save each file under ``folder``; a refused path is skipped with an ArtifactSkipped warning."""
    saved: List[str] = []
    for p, data in files.items():
        try:
            saved.append(save_file(folder, p, data))
        except ExecutorError as err:
            _refused(err)
    return saved


def artifact_saver(folder: Union[str, "os.PathLike[str]"]) -> Callable[[FilePart], None]:
    """An ``on_file`` callback that writes each artifact under ``folder`` as its parts arrive.

    A snippet chooses its file names: one that is refused (see :func:`unsafe_artifact_path`) is
    skipped with an :class:`ArtifactSkipped` warning, and the run's result comes all the same.
    """

    def save(part: FilePart) -> None:
        try:
            save_file(folder, part.path, part.data, append=part.part > 1)
        except ExecutorError as err:
            _refused(err)

    return save
