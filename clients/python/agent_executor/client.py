"""The synchronous client: submit tasks, follow their results, run sessions.

    from agent_executor import Client

    with Client() as client:
        result = client.run("python", "print(6 * 7)")
        print(result.status, result.stdout)
"""

from __future__ import annotations

import time
from typing import Any, Callable, Dict, Iterator, List, Optional, TypeVar

import redis
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import RedisClusterException, TimeoutError as RedisTimeoutError

from ._cells import FOLLOW_OPTIONS, CellPlan
from ._follow import Callbacks, Follower, answered_without_running, read_block_ms, timed_out
from ._settings import Settings, resolve
from ._wire import SUBMIT_CELL, answered_key, build_task, check_id, control_key, id_used, results_key, serialise, session_info, session_key, session_stream_key, sessions_index_key
from .errors import ErrorCode, ExecutorError, unreachable
from .results import DisplayPart, Event, FilePart, Result, SessionInfo, Started

T = TypeVar("T")
_UNREACHABLE = (RedisConnectionError, RedisTimeoutError, RedisClusterException, OSError)


def _connect(s: Settings) -> Any:
    if s.cluster_nodes:
        from redis.cluster import ClusterNode, RedisCluster

        return RedisCluster(startup_nodes=[ClusterNode(h, p) for h, p in s.cluster_nodes], socket_connect_timeout=5, **s.credentials())
    return redis.Redis.from_url(s.url, socket_connect_timeout=5)


class Client:
    """A connection to the executors' Redis.

    ``url`` is a Redis URL; when not given it is read from the file ``REDIS_URL_FILE`` names, else
    ``REDIS_URL``, else ``redis://127.0.0.1:6379``. ``REDIS_CLUSTER_NODES``, ``EXECUTOR_STREAM``
    and ``EXECUTOR_KEY_PREFIX`` are read as the executors read them (the arguments win).
    ``max_task_bytes`` is the executors' ``EXECUTOR_TASK_BYTES``: a larger task is refused here.
    """

    def __init__(
        self,
        url: Optional[str] = None,
        *,
        stream: Optional[str] = None,
        key_prefix: Optional[str] = None,
        cluster_nodes: Optional[str] = None,
        max_task_bytes: Optional[int] = None,
    ) -> None:
        self.settings = resolve(url, stream, key_prefix, cluster_nodes, max_task_bytes)
        self._redis = _connect(self.settings)
        self._closed = False

    # -- plumbing -------------------------------------------------------------------------------

    def _reach(self, command: Callable[[], T]) -> T:
        """Run a Redis command; a connection failure becomes one error naming the address."""
        if self._closed:
            raise ExecutorError(ErrorCode.CLIENT_CLOSED, "the client is closed")
        try:
            return command()
        except _UNREACHABLE as err:
            raise unreachable(self.settings.address, err) from err

    def __enter__(self) -> "Client":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        """Close the connection; calls after this raise EXEC_ERR_CLIENT_CLOSED."""
        self._closed = True
        self._redis.close()

    def _stream_hint(self) -> str:
        """Why nothing may have answered: no executor reads the stream (best effort, for a timeout's message)."""
        try:
            groups = self._redis.xinfo_groups(self.settings.stream)
        except Exception:
            groups = []
        if not groups:
            return f"; no executor has ever read the stream {self.settings.stream!r} (is EXECUTOR_STREAM the executors'?)"
        return ""

    # -- tasks ----------------------------------------------------------------------------------

    def submit(
        self,
        runtime: str,
        code: str,
        *,
        id: Optional[str] = None,
        stdin: Optional[str] = None,
        args: Optional[List[str]] = None,
        env: Optional[Dict[str, str]] = None,
        files: Any = None,
        limits: Optional[Dict[str, int]] = None,
        deadline: Any = None,
        traceparent: Optional[str] = None,
        on_stdout: Optional[Callable[[bytes], None]] = None,
        on_stderr: Optional[Callable[[bytes], None]] = None,
        on_display: Optional[Callable[[DisplayPart], None]] = None,
        on_file: Optional[Callable[[FilePart], None]] = None,
        on_started: Optional[Callable[[Started], None]] = None,
    ) -> "Submission":
        """Validate and enqueue a task; returns its :class:`Submission` to follow.

        ``files``: ``{path: str | bytes}`` or a list of ``{"path", "content", "encoding"?, "mode"?}``
        (bytes are sent base64). ``limits`` (``wall_ms``, ``cpu_ms``, ``output_bytes``,
        ``memory_bytes``, ``processes``, ``open_files``, ``file_size_bytes``, or their camelCase wire
        names) can only lower the executors' maxima. ``deadline``: a datetime or epoch ms; a task still
        queued then is answered ``expired``. Callbacks run in the thread that reads the results
        (``events()`` or ``result()``).
        """
        task = build_task(runtime, code, id=id, stdin=stdin, args=args, env=env, files=files, limits=limits, deadline=deadline, traceparent=traceparent)
        callbacks = Callbacks(on_stdout, on_stderr, on_display, on_file, on_started)
        return self._send(task, callbacks, check_used=id is not None)

    def run(self, runtime: str, code: str, *, timeout: Optional[float] = None, **options: Any) -> Result:
        """Submit and wait for the result (``timeout`` in seconds; options as :meth:`submit`)."""
        return self.submit(runtime, code, **options).result(timeout)

    def _send(self, task: Dict[str, Any], callbacks: Callbacks, check_used: bool, session: Optional[str] = None, opens: bool = False) -> "Submission":
        body = serialise(task, self.settings.max_task_bytes)
        task_id = task["id"]
        # An id with its answer already would not run again, and following it would show the
        # earlier run as if it were this one (a best effort: executors tell racing twins apart).
        if check_used and self._reach(lambda: self._redis.exists(answered_key(task_id, self.settings.key_prefix))):
            raise id_used(task_id)
        self._reach(lambda: self._redis.xadd(self.settings.stream, {"task": body}))
        return Submission(self, task_id, callbacks, session, opens)

    def follow(
        self,
        id: str,
        *,
        on_stdout: Optional[Callable[[bytes], None]] = None,
        on_stderr: Optional[Callable[[bytes], None]] = None,
        on_display: Optional[Callable[[DisplayPart], None]] = None,
        on_file: Optional[Callable[[FilePart], None]] = None,
        on_started: Optional[Callable[[Started], None]] = None,
    ) -> "Submission":
        """Follow the results of a task submitted earlier (or by someone else), from its first entry."""
        return Submission(self, check_id(id), Callbacks(on_stdout, on_stderr, on_display, on_file, on_started))

    def cancel(self, id: str) -> None:
        """Cancel a task: a running one stops (``cancelled``), a queued one ends so without running.

        A cell of a session is interrupted instead, and the session lives on. Harmless for an
        unknown or finished task.
        """
        self._reach(lambda: self._redis.xadd(control_key(self.settings.stream), {"cancel": check_id(id)}))

    # -- sessions -------------------------------------------------------------------------------

    def session(
        self,
        runtime: str,
        idle_ms: Optional[int] = None,
        lifetime_ms: Optional[int] = None,
        *,
        id: Optional[str] = None,
        env: Optional[Dict[str, str]] = None,
        args: Optional[List[str]] = None,
        limits: Optional[Dict[str, int]] = None,
    ) -> "Session":
        """A stateful session (one interpreter across cells); nothing is sent before the first cell.

        ``env``, ``args`` and ``limits`` are fixed by the first cell (memory, processes, open files
        and file size hold for the whole session; wall, CPU and output per cell). Use it as a
        context manager, or call :meth:`Session.close`.
        """
        return Session(self, CellPlan(runtime, id, idle_ms, lifetime_ms, env, args, limits))

    def close_session(self, id: str) -> None:
        """End a session: its holder wipes it; cells still queued are answered ``session_ended``."""
        self._reach(lambda: self._redis.xadd(control_key(self.settings.stream), {"close": check_id(id, "session id")}))

    def sessions(self) -> List[SessionInfo]:
        """The open sessions, oldest first."""
        prefix = self.settings.key_prefix
        out: List[SessionInfo] = []
        for raw_id in self._reach(lambda: self._redis.zrange(sessions_index_key(prefix), 0, -1)):
            sid = raw_id.decode()
            info = session_info(sid, self._reach(lambda: self._redis.hgetall(session_key(sid, prefix))))
            if info is not None:
                out.append(info)
        return out

    def _submit_cell(self, plan: CellPlan, code: str, options: Dict[str, Any]) -> "Submission":
        first = not plan.opened
        task = plan.task(code, options)
        callbacks = Callbacks(**{k: options.get(k) for k in FOLLOW_OPTIONS})
        if not first:
            body = serialise(task, self.settings.max_task_bytes)
            prefix = self.settings.key_prefix
            reply = self._reach(lambda: self._redis.eval(SUBMIT_CELL, 2, session_key(plan.id, prefix), session_stream_key(plan.id, prefix), body))
            if reply and reply[0] == b"queued":
                return Submission(self, task["id"], callbacks, plan.id, False)
            # Not open (ended, or not opened yet): the task stream routes it, or answers it session_ended.
        sub = self._send(task, callbacks, check_used="id" in options and options["id"] is not None, session=plan.id, opens=first)
        # Opened once the first cell is sent: one that failed to go leaves the next to open it.
        plan.opened = True
        return sub


class Submission:
    """One task's results, read as they come: iterate :meth:`events`, or wait for :meth:`result`."""

    def __init__(self, client: Client, task_id: str, callbacks: Callbacks, session: Optional[str] = None, opens_session: bool = False) -> None:
        self.id = task_id
        self._client = client
        self._follower = Follower(task_id, callbacks, session, opens_session)
        self._failure: Optional[BaseException] = None

    @property
    def done(self) -> bool:
        return self._follower.done

    def _read(self, deadline: float) -> None:
        if self._failure is not None:
            raise self._failure
        block = read_block_ms(deadline)
        key = results_key(self.id, self._client.settings.key_prefix)
        try:
            reply = self._client._reach(lambda: self._client._redis.xread({key: self._follower.last_id}, count=1000, block=block))
            self._follower.feed(reply)
        except BaseException as err:
            self._failure = err
            raise

    def _until(self, done: Callable[[], bool], timeout: Optional[float], what: str) -> None:
        deadline = float("inf") if timeout is None else time.monotonic() + timeout
        while not done():
            if time.monotonic() >= deadline:
                raise timed_out(self.id, timeout or 0, what, self._client._stream_hint())
            self._read(deadline)

    def events(self, timeout: Optional[float] = None) -> Iterator[Event]:
        """Every event in order, from the first: a ``Started`` before each attempt's output, ``Exit`` last."""
        deadline = float("inf") if timeout is None else time.monotonic() + timeout
        i = 0
        while True:
            while i < len(self._follower.events):
                yield self._follower.events[i]
                i += 1
            if self.done:
                return
            if time.monotonic() >= deadline:
                raise timed_out(self.id, timeout or 0, "result", self._client._stream_hint())
            self._read(deadline)

    def wait_started(self, timeout: Optional[float] = None) -> Started:
        """The first ``started`` entry; raises when the task is answered without running."""
        f = self._follower
        self._until(lambda: f.started is not None or f.done, timeout, "start")
        if f.started is None:
            raise answered_without_running(self.id, f.result)  # type: ignore[arg-type]
        return f.started

    def result(self, timeout: Optional[float] = None) -> Result:
        """Wait (``timeout`` seconds, or for ever) for the one final answer."""
        self._until(lambda: self.done, timeout, "result")
        return self._follower.result  # type: ignore[return-value]


class Session:
    """A session's handle: :meth:`run` a cell and wait for its result, or :meth:`submit` to stream it."""

    def __init__(self, client: Client, plan: CellPlan) -> None:
        self._client = client
        self._plan = plan
        self._previous: Optional[Submission] = None

    @property
    def id(self) -> str:
        return self._plan.id

    def submit(self, code: str, **options: Any) -> Submission:
        """Send the next cell (options: ``id``, ``stdin``, ``files``, ``limits`` — wall/CPU/output only
        after the first cell —, ``deadline``, ``traceparent`` and the callbacks of :meth:`Client.submit`)."""
        # Cells run in the order they reach the holder: send this one once the previous started.
        if self._previous is not None and not self._previous.done:
            try:
                self._previous.wait_started()
            except ExecutorError:
                pass
        self._previous = self._client._submit_cell(self._plan, code, options)
        return self._previous

    def run(self, code: str, *, timeout: Optional[float] = None, **options: Any) -> Result:
        """Run ``code`` as the next cell and wait for its result (``timeout`` in seconds)."""
        return self.submit(code, **options).result(timeout)

    def close(self) -> None:
        """Close the session (its state is wiped); harmless once it has ended or before it opened."""
        if self._plan.opened:
            self._client.close_session(self.id)

    def __enter__(self) -> "Session":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
