"""Errors of the client and of the executor (never of the snippet: a snippet's failure is a result).

Each has a stable ``code``, the same strings as the TypeScript client's ``ERROR_CODES``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Optional

if TYPE_CHECKING:
    from .results import Result


class ErrorCode:
    """The codes an :class:`ExecutorError` may carry (the TypeScript client's, same strings)."""

    USAGE = "EXEC_ERR_USAGE"
    """Bad input to the client: an invalid task, limit, path or setting. Nothing was sent."""
    CONFIG_INVALID = "EXEC_ERR_CONFIG_INVALID"
    """A connection setting (``REDIS_URL_FILE``, ``REDIS_CLUSTER_NODES``...) cannot be used."""
    TASK_TOO_LARGE = "EXEC_ERR_TASK_TOO_LARGE"
    """The task's JSON is over the executors' ``EXECUTOR_TASK_BYTES``: it was not sent."""
    TASK_ID_USED = "EXEC_ERR_TASK_ID_USED"
    """The id given has its answer already: it would not run again."""
    CLIENT_TIMEOUT = "EXEC_ERR_CLIENT_TIMEOUT"
    """No result (or no start) within the timeout given."""
    CLIENT_UNREACHABLE = "EXEC_ERR_CLIENT_UNREACHABLE"
    """Redis could not be reached."""
    CLIENT_CLOSED = "EXEC_ERR_CLIENT_CLOSED"
    """The client was closed, or the task was answered without running."""
    ARTIFACT_PATH_REFUSED = "EXEC_ERR_ARTIFACT_PATH_REFUSED"
    """An artifact's path would be saved outside the chosen folder."""
    SESSION_UNSUPPORTED = "EXEC_ERR_SESSION_UNSUPPORTED"
    """A session cell was taken by an executor from before sessions: it ran without the session's state."""
    RESULT_MALFORMED = "EXEC_ERR_RESULT_MALFORMED"
    """A results entry breaks the wire format (written by something that is not an executor)."""
    SESSION_ID_TAKEN = "EXEC_ERR_SESSION_ID_TAKEN"
    """The first cell of a new session ran as a later cell: someone else had opened a session with that id."""


class ExecutorError(Exception):
    """What went wrong, in words, with a stable :attr:`code` (see :class:`ErrorCode`)."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code

    def __repr__(self) -> str:
        return f"ExecutorError({self.code!r}, {str(self)!r})"


class RunFailed(Exception):
    """Raised by :meth:`Result.raise_for_status` when a run did not end ``ok``; ``.result`` is the result."""

    def __init__(self, result: "Result") -> None:
        why = f": {result.error}" if result.error else ""
        code = f" (exit code {result.exit_code})" if result.exit_code not in (None, 0) else ""
        super().__init__(f"task {result.id} ended {result.status}{code}{why}")
        self.result = result


def usage(message: str) -> ExecutorError:
    return ExecutorError(ErrorCode.USAGE, message)


def unreachable(address: str, err: Optional[BaseException]) -> ExecutorError:
    return ExecutorError(ErrorCode.CLIENT_UNREACHABLE, f"cannot reach Redis at {address}: {err}")
