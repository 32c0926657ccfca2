"""How a session's cells become tasks (shared by both clients; README, "Sessions").

The first cell goes on the task stream and opens the session wherever it is taken, carrying what
the session fixes (env, args, memory and process limits, idle timeout, lifetime). Later cells go
straight to the holder's own stream through a script that appends only while the session is open;
when it is not, they go on the task stream, where an executor answers them ``session_ended``.
"""

from __future__ import annotations

import uuid
from typing import Any, Dict, Mapping, Optional, Sequence

from ._wire import build_task, check_id
from .errors import usage

# Options of a cell that are about following it, not about the task.
FOLLOW_OPTIONS = ("on_stdout", "on_stderr", "on_display", "on_file", "on_started")


class CellPlan:
    def __init__(
        self,
        runtime: str,
        id: Optional[str],
        idle_ms: Optional[int],
        lifetime_ms: Optional[int],
        env: Optional[Mapping[str, str]],
        args: Optional[Sequence[str]],
        limits: Optional[Mapping[str, int]],
    ) -> None:
        self.runtime = runtime
        self.id = check_id(id, "session id") if id is not None else str(uuid.uuid4())
        for name, value in (("idle_ms", idle_ms), ("lifetime_ms", lifetime_ms)):
            if value is not None and (isinstance(value, bool) or not isinstance(value, int) or value <= 0):
                raise usage(f"invalid session: {name} must be a positive integer of milliseconds (got {value!r})")
        self.idle_ms, self.lifetime_ms = idle_ms, lifetime_ms
        self.env, self.args, self.limits = env, args, limits
        self.opened = False

    def task(self, code: str, options: Dict[str, Any]) -> Dict[str, Any]:
        """The next cell's task; the first one opens the session."""
        first = not self.opened
        task_options = {k: v for k, v in options.items() if k not in FOLLOW_OPTIONS}
        if first:
            ref: Any = {"id": self.id}
            if self.idle_ms:
                ref["idleMs"] = self.idle_ms
            if self.lifetime_ms:
                ref["lifetimeMs"] = self.lifetime_ms
            limits = {**(self.limits or {}), **(task_options.pop("limits", None) or {})}
            return build_task(self.runtime, code, env=self.env, args=self.args, limits=limits, session=ref, **task_options)
        return build_task(self.runtime, code, session=self.id, cell_limits_only=True, **task_options)
