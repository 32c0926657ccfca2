"""The asyncio client (``redis.asyncio``): the same calls as :mod:`agent_executor.client`, awaited.

    from agent_executor import AsyncClient

    async with AsyncClient() as client:
        sub = await client.submit("python", "print(1)")
        async for event in sub.events():
            ...
        result = await sub.result()
"""

from __future__ import annotations

import asyncio
import time
from typing import Any, AsyncIterator, Awaitable, Callable, Dict, List, Optional, TypeVar

import redis.asyncio as aioredis

from ._cells import FOLLOW_OPTIONS, CellPlan
from ._follow import Callbacks, Follower, answered_without_running, read_block_ms, timed_out
from ._settings import Settings, resolve
from ._wire import SUBMIT_CELL, answered_key, build_task, check_id, control_key, id_used, results_key, serialise, session_info, session_key, session_stream_key, sessions_index_key
from .client import _UNREACHABLE
from .errors import ErrorCode, ExecutorError, unreachable
from .results import DisplayPart, Event, FilePart, Result, SessionInfo, Started

T = TypeVar("T")


def _connect(s: Settings) -> Any:
    if s.cluster_nodes:
        from redis.asyncio.cluster import ClusterNode, RedisCluster

        return RedisCluster(startup_nodes=[ClusterNode(h, p) for h, p in s.cluster_nodes], socket_connect_timeout=5, **s.credentials())
    return aioredis.Redis.from_url(s.url, socket_connect_timeout=5)


class AsyncClient:
    """As :class:`agent_executor.Client`, for asyncio; ``url`` found the same way when not given."""

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

    async def _reach(self, command: Callable[[], Awaitable[T]]) -> T:
        if self._closed:
            raise ExecutorError(ErrorCode.CLIENT_CLOSED, "the client is closed")
        try:
            return await command()
        except _UNREACHABLE as err:
            raise unreachable(self.settings.address, err) from err

    async def __aenter__(self) -> "AsyncClient":
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    async def close(self) -> None:
        """Close the connection; calls after this raise EXEC_ERR_CLIENT_CLOSED."""
        self._closed = True
        await self._redis.close()

    async def _stream_hint(self) -> str:
        try:
            groups = await self._redis.xinfo_groups(self.settings.stream)
        except Exception:
            groups = []
        if not groups:
            return f"; no executor has ever read the stream {self.settings.stream!r} (is EXECUTOR_STREAM the executors'?)"
        return ""

    async def submit(
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
    ) -> "AsyncSubmission":
        """As :meth:`agent_executor.Client.submit`."""
        task = build_task(runtime, code, id=id, stdin=stdin, args=args, env=env, files=files, limits=limits, deadline=deadline, traceparent=traceparent)
        return await self._send(task, Callbacks(on_stdout, on_stderr, on_display, on_file, on_started), check_used=id is not None)

    async def run(self, runtime: str, code: str, *, timeout: Optional[float] = None, **options: Any) -> Result:
        return await (await self.submit(runtime, code, **options)).result(timeout)

    async def _send(self, task: Dict[str, Any], callbacks: Callbacks, check_used: bool, session: Optional[str] = None, opens: bool = False) -> "AsyncSubmission":
        body = serialise(task, self.settings.max_task_bytes)
        task_id = task["id"]
        if check_used and await self._reach(lambda: self._redis.exists(answered_key(task_id, self.settings.key_prefix))):
            raise id_used(task_id)
        await self._reach(lambda: self._redis.xadd(self.settings.stream, {"task": body}))
        return AsyncSubmission(self, task_id, callbacks, session, opens)

    def follow(
        self,
        id: str,
        *,
        on_stdout: Optional[Callable[[bytes], None]] = None,
        on_stderr: Optional[Callable[[bytes], None]] = None,
        on_display: Optional[Callable[[DisplayPart], None]] = None,
        on_file: Optional[Callable[[FilePart], None]] = None,
        on_started: Optional[Callable[[Started], None]] = None,
    ) -> "AsyncSubmission":
        return AsyncSubmission(self, check_id(id), Callbacks(on_stdout, on_stderr, on_display, on_file, on_started))

    async def cancel(self, id: str) -> None:
        await self._reach(lambda: self._redis.xadd(control_key(self.settings.stream), {"cancel": check_id(id)}))

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
    ) -> "AsyncSession":
        """As :meth:`agent_executor.Client.session`; use ``async with``."""
        return AsyncSession(self, CellPlan(runtime, id, idle_ms, lifetime_ms, env, args, limits))

    async def close_session(self, id: str) -> None:
        await self._reach(lambda: self._redis.xadd(control_key(self.settings.stream), {"close": check_id(id, "session id")}))

    async def sessions(self) -> List[SessionInfo]:
        prefix = self.settings.key_prefix
        out: List[SessionInfo] = []
        for raw_id in await self._reach(lambda: self._redis.zrange(sessions_index_key(prefix), 0, -1)):
            sid = raw_id.decode()
            info = session_info(sid, await self._reach(lambda: self._redis.hgetall(session_key(sid, prefix))))
            if info is not None:
                out.append(info)
        return out

    async def _submit_cell(self, plan: CellPlan, code: str, options: Dict[str, Any]) -> "AsyncSubmission":
        first = not plan.opened
        task = plan.task(code, options)
        callbacks = Callbacks(**{k: options.get(k) for k in FOLLOW_OPTIONS})
        if not first:
            body = serialise(task, self.settings.max_task_bytes)
            prefix = self.settings.key_prefix
            reply = await self._reach(lambda: self._redis.eval(SUBMIT_CELL, 2, session_key(plan.id, prefix), session_stream_key(plan.id, prefix), body))
            if reply and reply[0] == b"queued":
                return AsyncSubmission(self, task["id"], callbacks, plan.id, False)
        sub = await self._send(task, callbacks, check_used="id" in options and options["id"] is not None, session=plan.id, opens=first)
        # Opened once the first cell is sent: one that failed to go leaves the next to open it.
        plan.opened = True
        return sub


class AsyncSubmission:
    """As :class:`agent_executor.client.Submission`: ``async for e in sub.events()``, ``await sub.result()``."""

    def __init__(self, client: AsyncClient, task_id: str, callbacks: Callbacks, session: Optional[str] = None, opens_session: bool = False) -> None:
        self.id = task_id
        self._client = client
        self._follower = Follower(task_id, callbacks, session, opens_session)
        self._failure: Optional[BaseException] = None
        # One reader at a time: events() and result() may be awaited from different tasks.
        self._lock = asyncio.Lock()

    @property
    def done(self) -> bool:
        return self._follower.done

    async def _read(self, deadline: float) -> None:
        async with self._lock:
            if self._failure is not None:
                raise self._failure
            if self.done:
                return
            block = read_block_ms(deadline)
            key = results_key(self.id, self._client.settings.key_prefix)
            try:
                reply = await self._client._reach(lambda: self._client._redis.xread({key: self._follower.last_id}, count=1000, block=block))
                self._follower.feed(reply)
            except BaseException as err:
                self._failure = err
                raise

    async def _until(self, done: Callable[[], bool], timeout: Optional[float], what: str) -> None:
        deadline = float("inf") if timeout is None else time.monotonic() + timeout
        while not done():
            if time.monotonic() >= deadline:
                raise timed_out(self.id, timeout or 0, what, await self._client._stream_hint())
            await self._read(deadline)

    async def events(self, timeout: Optional[float] = None) -> AsyncIterator[Event]:
        deadline = float("inf") if timeout is None else time.monotonic() + timeout
        i = 0
        while True:
            while i < len(self._follower.events):
                yield self._follower.events[i]
                i += 1
            if self.done:
                return
            if time.monotonic() >= deadline:
                raise timed_out(self.id, timeout or 0, "result", await self._client._stream_hint())
            await self._read(deadline)

    async def wait_started(self, timeout: Optional[float] = None) -> Started:
        f = self._follower
        await self._until(lambda: f.started is not None or f.done, timeout, "start")
        if f.started is None:
            raise answered_without_running(self.id, f.result)  # type: ignore[arg-type]
        return f.started

    async def result(self, timeout: Optional[float] = None) -> Result:
        await self._until(lambda: self.done, timeout, "result")
        return self._follower.result  # type: ignore[return-value]


class AsyncSession:
    """As :class:`agent_executor.client.Session`, awaited."""

    def __init__(self, client: AsyncClient, plan: CellPlan) -> None:
        self._client = client
        self._plan = plan
        self._previous: Optional[AsyncSubmission] = None
        self._order = asyncio.Lock()

    @property
    def id(self) -> str:
        return self._plan.id

    async def submit(self, code: str, **options: Any) -> AsyncSubmission:
        async with self._order:
            if self._previous is not None and not self._previous.done:
                try:
                    await self._previous.wait_started()
                except ExecutorError:
                    pass
            self._previous = await self._client._submit_cell(self._plan, code, options)
            return self._previous

    async def run(self, code: str, *, timeout: Optional[float] = None, **options: Any) -> Result:
        return await (await self.submit(code, **options)).result(timeout)

    async def close(self) -> None:
        if self._plan.opened:
            await self._client.close_session(self.id)

    async def __aenter__(self) -> "AsyncSession":
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()
