"""The wire format (README, "Wire format"): key names, the task JSON, decoding results entries.

Kept apart from the connections so that the synchronous and the asyncio client share every rule.
"""

from __future__ import annotations

import base64
import datetime as _dt
import json
import re
import uuid
from typing import Any, Dict, List, Mapping, Optional, Sequence, Tuple, Union

from .artifacts import relative_path_problem
from .errors import ErrorCode, ExecutorError, usage
from .results import CellInfo, DisplayPart, Event, Exit, FilePart, Limits, Result, SessionInfo, Started, Stderr, Stdout

DEFAULT_STREAM = "executor:tasks"
DEFAULT_KEY_PREFIX = "executor:"
#: The executors' default EXECUTOR_TASK_BYTES.
DEFAULT_TASK_BYTES = 20 * 1024 * 1024
TASK_ID = re.compile(r"^[A-Za-z0-9._:-]{1,128}$")
KEY_PREFIX = re.compile(r"^[^{}\s]*(\{[^{}\s]+\}[^{}\s]*)?$")
ENV_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
TRACEPARENT = re.compile(r"^[0-9a-f]{2}-[0-9a-f]{32}-[0-9a-f]{16}-[0-9a-f]{2}$")
MAX_CODE_BYTES = 4 * 1024 * 1024

# Limit names as the wire spells them, by their Python spelling (either is accepted).
LIMIT_NAMES = {
    "wall_ms": "wallMs",
    "cpu_ms": "cpuMs",
    "output_bytes": "outputBytes",
    "memory_bytes": "memoryBytes",
    "processes": "processes",
    "open_files": "openFiles",
    "file_size_bytes": "fileSizeBytes",
}
CELL_LIMITS = ("wallMs", "cpuMs", "outputBytes")

# The direct route of a session's later cells: appended to its own stream only while it is open
# (the same script the TypeScript client and the executors use).
SUBMIT_CELL = """
local state = redis.call('HGET', KEYS[1], 'state')
if not state then return {'unknown'} end
if state ~= 'open' then return {'ended', redis.call('HGET', KEYS[1], 'reason') or 'closed'} end
return {'queued', redis.call('XADD', KEYS[2], '*', 'task', ARGV[1])}"""


def _has_hash_tag(prefix: str) -> bool:
    return re.search(r"\{[^{}]+\}", prefix) is not None


def results_key(task_id: str, prefix: str) -> str:
    return f"{prefix}results:{task_id}"


def answered_key(task_id: str, prefix: str) -> str:
    return f"{prefix}answered:{task_id}" if _has_hash_tag(prefix) else "{" + results_key(task_id, prefix) + "}:answered"


def session_key(session_id: str, prefix: str) -> str:
    return f"{prefix}session:{{{session_id}}}"


def session_stream_key(session_id: str, prefix: str) -> str:
    return session_key(session_id, prefix) + ":cells"


def sessions_index_key(prefix: str) -> str:
    return f"{prefix}sessions"


def control_key(stream: str) -> str:
    return f"{stream}:control"


def check_id(value: str, what: str = "id") -> str:
    if not isinstance(value, str) or not TASK_ID.match(value):
        raise usage(f"invalid task: {what} must be 1-128 characters of [A-Za-z0-9._:-] (got {value!r})")
    return value


def wire_limits(limits: Optional[Mapping[str, int]], allowed: Sequence[str] = tuple(LIMIT_NAMES.values())) -> Dict[str, int]:
    """``limits`` in the wire's names; snake_case or camelCase keys, positive integers only."""
    out: Dict[str, int] = {}
    for name, value in (limits or {}).items():
        wire = LIMIT_NAMES.get(name, name)
        if wire not in LIMIT_NAMES.values():
            raise usage(f"invalid task: unknown limit {name!r} (known: {', '.join(LIMIT_NAMES)})")
        if wire not in allowed:
            raise usage(f"invalid task: a later cell of a session may only lower wall_ms, cpu_ms and output_bytes, not {name!r} (the first cell fixed it)")
        if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
            raise usage(f"invalid task: limit {name} must be a positive integer (got {value!r})")
        out[wire] = value
    return out


FileSpec = Union[Mapping[str, Any], Tuple[str, Union[str, bytes]]]


def wire_files(files: Union[None, Mapping[str, Union[str, bytes]], Sequence[FileSpec]]) -> Optional[List[Dict[str, Any]]]:
    """Files for the task: ``{path: str | bytes}`` or a list of ``{"path", "content", "encoding"?, "mode"?}``."""
    if files is None:
        return None
    items = list(files.items()) if isinstance(files, Mapping) else list(files)
    out: List[Dict[str, Any]] = []
    for item in items:
        if isinstance(item, Mapping):
            spec = dict(item)
            path, content = spec.get("path"), spec.get("content")
        elif isinstance(item, tuple) and len(item) == 2:
            path, content = item
            spec = {}
        else:
            raise usage(f"invalid task: a file is {{'path', 'content'}} or a (path, content) pair, not {item!r}")
        why = relative_path_problem(path) if isinstance(path, str) else "must be a string"
        if why is not None:
            raise usage(f"invalid task: file path {path!r} {why}")
        entry: Dict[str, Any] = {"path": path}
        if isinstance(content, (bytes, bytearray, memoryview)):
            entry.update(content=base64.b64encode(bytes(content)).decode("ascii"), encoding="base64")
        elif isinstance(content, str):
            entry.update(content=content, encoding=spec.get("encoding", "utf8"))
            if entry["encoding"] not in ("utf8", "base64"):
                raise usage(f"invalid task: file {path!r}: encoding must be 'utf8' or 'base64'")
        else:
            raise usage(f"invalid task: file {path!r}: content must be str or bytes")
        if "mode" in spec:
            mode = spec["mode"]
            if isinstance(mode, bool) or not isinstance(mode, int) or not 0 <= mode <= 0o777:
                raise usage(f"invalid task: file {path!r}: mode must be 0..0o777 (no set-id or sticky bits)")
            entry["mode"] = mode
        out.append(entry)
    return out


def wire_deadline(deadline: Union[None, int, _dt.datetime]) -> Optional[int]:
    """A deadline as epoch ms: an int is taken as epoch ms (the wire's), a datetime converted."""
    if deadline is None:
        return None
    if isinstance(deadline, _dt.datetime):
        return int(deadline.timestamp() * 1000)
    if isinstance(deadline, bool) or not isinstance(deadline, int) or deadline <= 0:
        raise usage(f"invalid task: deadline must be a datetime or epoch milliseconds (got {deadline!r})")
    return deadline


def build_task(
    runtime: str,
    code: str,
    *,
    id: Optional[str] = None,
    stdin: Optional[str] = None,
    args: Optional[Sequence[str]] = None,
    env: Optional[Mapping[str, str]] = None,
    files: Any = None,
    limits: Optional[Mapping[str, int]] = None,
    deadline: Union[None, int, _dt.datetime] = None,
    traceparent: Optional[str] = None,
    session: Union[None, str, Dict[str, Any]] = None,
    cell_limits_only: bool = False,
) -> Dict[str, Any]:
    """The task JSON as a dict (``id`` first: an executor finds it even in a task too large to parse)."""
    task: Dict[str, Any] = {"id": check_id(id) if id is not None else str(uuid.uuid4())}
    if not isinstance(runtime, str) or runtime == "":
        raise usage("invalid task: runtime must be a non-empty string (python, node, bash, or a profile of the executors)")
    if not isinstance(code, str):
        raise usage("invalid task: code must be a string")
    if len(code.encode("utf-8", "surrogatepass")) > MAX_CODE_BYTES:
        raise usage(f"invalid task: code must be at most {MAX_CODE_BYTES} bytes")
    task.update(runtime=runtime, code=code)
    if stdin is not None:
        if not isinstance(stdin, str):
            raise usage("invalid task: stdin must be a string")
        task["stdin"] = stdin
    if args is not None:
        if isinstance(args, str) or not all(isinstance(a, str) and "\0" not in a for a in args):
            raise usage("invalid task: args must be a list of strings without NUL bytes")
        task["args"] = list(args)
    if env is not None:
        for k, v in env.items():
            if not isinstance(k, str) or not ENV_NAME.match(k):
                raise usage(f"invalid task: env name {k!r} must match [A-Za-z_][A-Za-z0-9_]*")
            if not isinstance(v, str) or "\0" in v:
                raise usage(f"invalid task: env {k} must be a string without NUL bytes")
        task["env"] = dict(env)
    wf = wire_files(files)
    if wf is not None:
        task["files"] = wf
    wl = wire_limits(limits, CELL_LIMITS if cell_limits_only else tuple(LIMIT_NAMES.values()))
    if wl:
        task["limits"] = wl
    d = wire_deadline(deadline)
    if d is not None:
        task["deadline"] = d
    if traceparent is not None:
        if not isinstance(traceparent, str) or not TRACEPARENT.match(traceparent):
            raise usage("invalid task: traceparent must be a W3C trace context (00-<32 hex>-<16 hex>-<2 hex>)")
        task["traceparent"] = traceparent
    if session is not None:
        task["session"] = session
    return task


def id_used(task_id: str) -> ExecutorError:
    """An id with its answer already would not run again, and following it would show the earlier run."""
    return ExecutorError(
        ErrorCode.TASK_ID_USED,
        f'task id "{task_id}" has already run (an id runs at most once within the executors\' EXECUTOR_RESULT_TTL_S); choose another id, or follow the earlier run',
    )


def session_info(session_id: str, fields: Mapping[bytes, bytes]) -> Optional[SessionInfo]:
    """A session's record (HGETALL) as a SessionInfo; None unless it is open."""
    r = {k.decode(): v.decode() for k, v in fields.items()}
    if r.get("state") != "open":
        return None
    opened = int(r.get("opened", 0))
    return SessionInfo(session_id, r.get("holder", ""), r.get("runtime", ""), opened, int(r.get("lastActive", opened)), int(r.get("cells", 0)))


def serialise(task: Dict[str, Any], max_bytes: int) -> str:
    body = json.dumps(task, ensure_ascii=False, separators=(",", ":"))
    size = len(body.encode("utf-8", "surrogatepass"))
    if size > max_bytes:
        raise ExecutorError(
            ErrorCode.TASK_TOO_LARGE,
            f"task is {size} bytes, over the cap of {max_bytes} bytes (EXECUTOR_TASK_BYTES)",
        )
    return body


def _fields(flat: Any) -> Dict[str, bytes]:
    """An entry's fields (redis-py gives a dict, or a flat list from some commands) by name."""
    if isinstance(flat, dict):
        return {(k.decode() if isinstance(k, bytes) else k): v for k, v in flat.items()}
    return {flat[i].decode(): flat[i + 1] for i in range(0, len(flat) - 1, 2)}


def decode_entry(task_id: str, raw_fields: Any, entry_id: str = "?") -> Optional[Event]:
    """One results entry as an event; None for a type this client does not know (a newer executor's).

    An entry that breaks the wire format raises EXEC_ERR_RESULT_MALFORMED, saying which.
    """
    try:
        return _decode(task_id, raw_fields)
    except (ValueError, TypeError, AttributeError, KeyError, IndexError) as err:
        raise ExecutorError(ErrorCode.RESULT_MALFORMED, f"results entry {entry_id} of task {task_id} is malformed: {err}") from err


def _decode(task_id: str, raw_fields: Any) -> Optional[Event]:
    f = _fields(raw_fields)

    def text(name: str, default: str = "") -> str:
        v = f.get(name)
        return default if v is None else v.decode("utf-8", "replace")

    def number(name: str, default: int) -> int:
        v = text(name)
        if v == "":
            return default
        if not re.fullmatch(r"[0-9]{1,15}", v):
            raise ValueError(f"{name} is not a count: {v[:40]!r}")
        return int(v)

    kind = text("type")
    attempt = number("attempt", 1)
    if kind == "started":
        session = None
        if "session" in f:
            session = CellInfo(text("session"), number("cell", 0), text("sessionStream"), number("idleDeadline", 0), number("lifetimeDeadline", 0))
        return Started(
            attempt=attempt,
            executor=text("executor"),
            limits=Limits.from_wire(json.loads(text("limits", "{}"))),
            sandbox="gvisor" if text("sandbox") == "gvisor" else "none",
            session=session,
            traceparent=text("traceparent") or None,
            raw=f,
        )
    if kind == "stdout":
        return Stdout(f.get("data", b""), attempt, f)
    if kind == "stderr":
        return Stderr(f.get("data", b""), attempt, f)
    if kind == "display":
        return DisplayPart(text("mime"), f.get("data", b""), number("display", 1), number("part", 1), number("parts", 1), attempt, f)
    if kind == "file":
        return FilePart(text("path"), f.get("data", b""), number("part", 1), number("parts", 1), attempt, f)
    if kind == "exit":
        return Exit(Result.from_wire(task_id, json.loads(text("result", "{}"))))
    return None
