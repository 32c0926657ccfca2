"""What following one task means, apart from how entries are read (shared by both clients).

Attempts are handled as the README says: every ``started`` entry carries its attempt; once a newer
attempt has started, what an older one printed is dropped from the result (callbacks and
``events()`` still see it, with a ``Started`` before each attempt's output, so a consumer can drop
it too).
"""

from __future__ import annotations

import time
from typing import Callable, Dict, List, Optional

from .errors import ErrorCode, ExecutorError
from .results import Display, DisplayPart, Event, Exit, FilePart, Result, Started, Stderr, Stdout
from ._wire import decode_entry

#: Blocking reads are re-sent at least this often (ms), so a timeout or close is noticed.
BLOCK_MS = 1000


class Callbacks:
    def __init__(
        self,
        on_stdout: Optional[Callable[[bytes], None]] = None,
        on_stderr: Optional[Callable[[bytes], None]] = None,
        on_display: Optional[Callable[[DisplayPart], None]] = None,
        on_file: Optional[Callable[[FilePart], None]] = None,
        on_started: Optional[Callable[[Started], None]] = None,
    ) -> None:
        self.on_stdout, self.on_stderr, self.on_display, self.on_file, self.on_started = on_stdout, on_stderr, on_display, on_file, on_started


class Follower:
    """Turns the entries of one results stream into events, and the last attempt's into a Result."""

    def __init__(self, task_id: str, callbacks: Callbacks, session: Optional[str] = None, opens_session: bool = False) -> None:
        self.task_id = task_id
        self.callbacks = callbacks
        self.session = session
        self.opens_session = opens_session
        self.events: List[Event] = []
        self.last_id = "0-0"
        self.started: Optional[Started] = None
        self.result: Optional[Result] = None
        self._attempt = 0
        self._stdout: List[bytes] = []
        self._stderr: List[bytes] = []
        self._displays: Dict[int, Dict[str, List[bytes]]] = {}
        self._files: Dict[str, List[bytes]] = {}

    @property
    def done(self) -> bool:
        return self.result is not None

    def feed(self, reply: object) -> None:
        """An XREAD reply for the results key: each entry decoded, checked, recorded, handed to callbacks."""
        for _key, entries in reply or []:  # type: ignore[union-attr]
            for entry_id, fields in entries:
                self.last_id = entry_id.decode() if isinstance(entry_id, bytes) else entry_id
                event = decode_entry(self.task_id, fields, self.last_id)
                if event is None:
                    continue
                self._take(event)
                self.events.append(event)
                if self.result is not None:
                    return

    def _take(self, event: Event) -> None:
        c = self.callbacks
        if isinstance(event, Started):
            self._check_session(event)
            if event.attempt > self._attempt:
                # A newer attempt: what the older one printed is not part of the answer.
                self._attempt = event.attempt
                self._stdout, self._stderr, self._displays, self._files = [], [], {}, {}
            if self.started is None or event.attempt >= self.started.attempt:
                self.started = event
            if c.on_started:
                c.on_started(event)
            return
        if isinstance(event, Exit):
            self.result = self._assemble(event.result)
            return
        if event.attempt < self._attempt:
            return
        if isinstance(event, Stdout):
            self._stdout.append(event.data)
            if c.on_stdout:
                c.on_stdout(event.data)
        elif isinstance(event, Stderr):
            self._stderr.append(event.data)
            if c.on_stderr:
                c.on_stderr(event.data)
        elif isinstance(event, DisplayPart):
            self._displays.setdefault(event.display, {}).setdefault(event.mime, []).append(event.data)
            if c.on_display:
                c.on_display(event)
        elif isinstance(event, FilePart):
            self._files.setdefault(event.path, []).append(event.data)
            if c.on_file:
                c.on_file(event)

    def _check_session(self, event: Started) -> None:
        if self.session is None:
            return
        if event.session is None or event.session.id != self.session:
            raise ExecutorError(
                ErrorCode.SESSION_UNSUPPORTED,
                f"the executor that took task {self.task_id} ({event.executor}) does not know sessions: it ran the cell without the session's state; upgrade the executors",
            )
        if self.opens_session and event.session.cell != 1:
            raise ExecutorError(
                ErrorCode.SESSION_ID_TAKEN,
                f'session id "{self.session}" was already in use: task {self.task_id} ran as its cell {event.session.cell} (choose another, unguessable id)',
            )

    def _assemble(self, result: Result) -> Result:
        result.started = self.started
        result.stdout_raw = b"".join(self._stdout)
        result.stderr_raw = b"".join(self._stderr)
        result.displays = [Display(k, {mime: b"".join(parts) for mime, parts in reps.items()}) for k, reps in sorted(self._displays.items())]
        result.files = {p: b"".join(parts) for p, parts in self._files.items()}
        return result


def read_block_ms(deadline: float) -> int:
    """How long the next blocking read may wait: BLOCK_MS, or less before a deadline (monotonic s; inf: none)."""
    left = deadline - time.monotonic()
    return BLOCK_MS if left * 1000 >= BLOCK_MS else max(1, int(left * 1000))


def timed_out(task_id: str, timeout: float, what: str = "result", hint: str = "") -> ExecutorError:
    return ExecutorError(ErrorCode.CLIENT_TIMEOUT, f"no {what} for task {task_id} within {timeout:g} s (it was not cancelled){hint}")


def answered_without_running(task_id: str, result: Result) -> ExecutorError:
    return ExecutorError(ErrorCode.CLIENT_CLOSED, f"task {task_id} was answered without running ({result.status}{': ' + result.error if result.error else ''})")
