"""Python client of agent-executor: run untrusted code on sandboxed executors through Redis.

    from agent_executor import Client

    with Client() as client:                       # REDIS_URL_FILE, REDIS_URL, or localhost
        print(client.run("python", "print(6 * 7)").stdout)
        with client.session(runtime="python") as s:
            s.run("x = 41")
            print(s.run("x + 1").displays[0].text)  # '42'

See the package's README for the guide; the wire format is the executors' README.
"""

from .aio import AsyncClient, AsyncSession, AsyncSubmission
from .artifacts import ArtifactSkipped, artifact_saver, unsafe_artifact_path
from .client import Client, Session, Submission
from .errors import ErrorCode, ExecutorError, RunFailed
from .results import (
    LIMIT_STATUSES,
    Artifact,
    CellInfo,
    Display,
    DisplayPart,
    Event,
    Exit,
    FilePart,
    Limits,
    Result,
    SessionInfo,
    SessionResult,
    Started,
    Stderr,
    Stdout,
    Sweep,
)

__all__ = [
    "AsyncClient", "AsyncSession", "AsyncSubmission", "Client", "Session", "Submission",
    "ErrorCode", "ExecutorError", "RunFailed", "ArtifactSkipped", "artifact_saver", "unsafe_artifact_path",
    "LIMIT_STATUSES", "Artifact", "CellInfo", "Display", "DisplayPart", "Event", "Exit", "FilePart",
    "Limits", "Result", "SessionInfo", "SessionResult", "Started", "Stderr", "Stdout", "Sweep",
]
