"""What comes back: the events of a results stream and the final result, as dataclasses.

Field names are the wire's in snake_case; ``raw`` keeps what was on the wire (an entry's fields,
or the exit result's JSON) for anything a newer executor adds.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import Any, Dict, List, Optional, Union

from .errors import RunFailed

#: Statuses that mean a budget or limit ended the run.
LIMIT_STATUSES = ("timeout", "cpu_limit", "output_limit", "memory_limit", "file_size_limit")


@dataclass(frozen=True)
class Limits:
    """The effective limits of a run, as its ``started`` entry reports them."""

    wall_ms: int
    cpu_ms: int
    output_bytes: int
    memory_bytes: int
    processes: int
    open_files: int
    file_size_bytes: int
    raw: Dict[str, Any] = field(repr=False, compare=False, default_factory=dict)

    @classmethod
    def from_wire(cls, d: Dict[str, Any]) -> "Limits":
        if not isinstance(d, dict):
            raise TypeError("limits is not an object")
        return cls(
            wall_ms=d.get("wallMs", 0),
            cpu_ms=d.get("cpuMs", 0),
            output_bytes=d.get("outputBytes", 0),
            memory_bytes=d.get("memoryBytes", 0),
            processes=d.get("processes", 0),
            open_files=d.get("openFiles", 0),
            file_size_bytes=d.get("fileSizeBytes", 0),
            raw=d,
        )


@dataclass(frozen=True)
class CellInfo:
    """What a session cell's ``started`` entry says about its session."""

    id: str
    cell: int
    stream: str
    idle_deadline: int
    lifetime_deadline: int


@dataclass(frozen=True)
class Started:
    """An attempt began. Output of any earlier attempt is to be discarded."""

    attempt: int
    executor: str
    limits: Limits
    sandbox: str
    session: Optional[CellInfo] = None
    traceparent: Optional[str] = None
    raw: Dict[str, bytes] = field(repr=False, compare=False, default_factory=dict)


@dataclass(frozen=True)
class _Output:
    data: bytes
    attempt: int
    raw: Dict[str, bytes] = field(repr=False, compare=False, default_factory=dict)


class Stdout(_Output):
    """Bytes the run wrote to stdout (binary-safe; a chunk may end inside a UTF-8 character)."""


class Stderr(_Output):
    """Bytes the run wrote to stderr."""


@dataclass(frozen=True)
class DisplayPart:
    """One representation (``mime``) of rich output ``display`` (from 1); over 1 MiB in parts."""

    mime: str
    data: bytes
    display: int
    part: int
    parts: int
    attempt: int
    raw: Dict[str, bytes] = field(repr=False, compare=False, default_factory=dict)


@dataclass(frozen=True)
class FilePart:
    """One part of an artifact (a file the run left in ``out/``); ``path`` is relative to ``out/``."""

    path: str
    data: bytes
    part: int
    parts: int
    attempt: int
    raw: Dict[str, bytes] = field(repr=False, compare=False, default_factory=dict)


@dataclass(frozen=True)
class Exit:
    """The one final entry: the answer."""

    result: "Result"


Event = Union[Started, Stdout, Stderr, DisplayPart, FilePart, Exit]


@dataclass(frozen=True)
class Sweep:
    clean: bool
    problems: List[str] = field(default_factory=list)
    problems_unlisted: int = 0


@dataclass(frozen=True)
class Artifact:
    """An entry of the exit result's ``artifacts`` list (returned or left out, and why)."""

    path: str
    bytes: int
    sha256: Optional[str]
    included: bool
    reason: Optional[str] = None
    path_base64: Optional[str] = None


@dataclass(frozen=True)
class SessionResult:
    id: str
    cell: Optional[int] = None
    ended: Optional[str] = None


_IMAGE_TYPES = ("image/png", "image/jpeg", "image/svg+xml", "image/gif")


@dataclass
class Display:
    """One rich output: its representations by mime type (``text/plain``, ``image/png``...)."""

    index: int
    data: Dict[str, bytes] = field(default_factory=dict)

    def __repr__(self) -> str:
        # The bytes of an image are no use on a terminal: the types and sizes are.
        reps = ", ".join(f"{mime}: {len(data)} bytes" for mime, data in self.data.items())
        return f"Display({self.index}, {{{reps}}})"

    @property
    def text(self) -> Optional[str]:
        """The ``text/plain`` representation (a value's repr), if any."""
        plain = self.data.get("text/plain")
        return None if plain is None else plain.decode("utf-8", "replace")

    @property
    def image(self) -> Optional[bytes]:
        """The first image representation (PNG, JPEG, SVG, GIF), if any."""
        for mime in _IMAGE_TYPES:
            if mime in self.data:
                return self.data[mime]
        return None

    def save(self, path: Union[str, "os.PathLike[str]"], mime: Optional[str] = None) -> str:
        """Write one representation (by default the first image) to ``path``; returns the path."""
        chosen = mime or next((m for m in _IMAGE_TYPES if m in self.data), None)
        if chosen is None or chosen not in self.data:
            have = ", ".join(self.data) or "nothing"
            raise ValueError(f"display {self.index} has no {mime or 'image'} representation (it has {have})")
        with open(path, "wb") as f:
            f.write(self.data[chosen])
        return os.fspath(path)


@dataclass
class Result:
    """The final answer of a task, plus what the answering attempt streamed.

    ``stdout``/``stderr`` are that attempt's output decoded as UTF-8 (invalid bytes replaced);
    ``stdout_raw``/``stderr_raw`` the bytes. ``displays`` and ``files`` are assembled from their
    parts. ``raw`` is the exit result's JSON as the executor wrote it.
    """

    id: str
    status: str
    exit_code: Optional[int]
    signal: Optional[str]
    wall_ms: int
    cpu_ms: int
    stdout_bytes: int
    stderr_bytes: int
    truncated: bool
    error: Optional[str] = None
    attempt: Optional[int] = None
    sweep: Optional[Sweep] = None
    artifacts: List[Artifact] = field(default_factory=list)
    artifacts_unlisted: int = 0
    session: Optional[SessionResult] = None
    started: Optional[Started] = field(default=None, repr=False)
    stdout_raw: bytes = field(default=b"", repr=False)
    stderr_raw: bytes = field(default=b"", repr=False)
    displays: List[Display] = field(default_factory=list)
    files: Dict[str, bytes] = field(default_factory=dict, repr=False)
    raw: Dict[str, Any] = field(repr=False, default_factory=dict)

    @property
    def ok(self) -> bool:
        """True when the run exited 0 (status ``ok``)."""
        return self.status == "ok"

    @property
    def images(self) -> List[Display]:
        """The displays that have an image (a chart's ``plt.show()``), in order."""
        return [d for d in self.displays if d.image is not None]

    @property
    def stdout(self) -> str:
        return self.stdout_raw.decode("utf-8", "replace")

    @property
    def stderr(self) -> str:
        return self.stderr_raw.decode("utf-8", "replace")

    def raise_for_status(self) -> "Result":
        """Raise :class:`RunFailed` unless the run ended ``ok``; returns the result otherwise."""
        if not self.ok:
            raise RunFailed(self)
        return self

    def save_artifacts(self, folder: Union[str, "os.PathLike[str]"]) -> List[str]:
        """Write the returned artifacts under ``folder``; returns the paths written.

        Paths are checked as :func:`artifact_saver` does: a refused one is skipped with an
        ``ArtifactSkipped`` warning, the others are saved.
        """
        from .artifacts import save_files

        return save_files(folder, self.files)

    @classmethod
    def from_wire(cls, task_id: str, d: Dict[str, Any]) -> "Result":
        if not isinstance(d, dict) or not isinstance(d.get("status"), str):
            raise TypeError("the exit result is not an object with a status")
        sweep = d.get("sweep")
        session = d.get("session")
        return cls(
            id=task_id,
            status=d.get("status", "internal_error"),
            exit_code=d.get("exitCode"),
            signal=d.get("signal"),
            wall_ms=d.get("wallMs", 0),
            cpu_ms=d.get("cpuMs", 0),
            stdout_bytes=d.get("stdoutBytes", 0),
            stderr_bytes=d.get("stderrBytes", 0),
            truncated=bool(d.get("truncated", False)),
            error=d.get("error"),
            attempt=d.get("attempt"),
            sweep=None if sweep is None else Sweep(bool(sweep.get("clean")), list(sweep.get("problems", [])), sweep.get("problemsUnlisted", 0)),
            artifacts=[
                Artifact(a.get("path", ""), a.get("bytes", 0), a.get("sha256"), bool(a.get("included")), a.get("reason"), a.get("pathBase64"))
                for a in d.get("artifacts", [])
            ],
            artifacts_unlisted=d.get("artifactsUnlisted", 0),
            session=None if session is None else SessionResult(session.get("id", ""), session.get("cell"), session.get("ended")),
            raw=d,
        )


@dataclass(frozen=True)
class SessionInfo:
    """An open session, as :meth:`Client.sessions` lists it."""

    id: str
    holder: str
    runtime: str
    opened_at: int
    last_active: int
    cells: int
