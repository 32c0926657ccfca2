"""The client's reading of the wire format, on results streams written by hand (the documented
entries, as an executor writes them) in a real Redis: attempts, sessions, unknown entries."""

from __future__ import annotations

import json
import uuid

import pytest
import redis

from agent_executor import Client, ErrorCode, ExecutorError, Started, Stdout, unsafe_artifact_path
from agent_executor._follow import Callbacks, Follower
from agent_executor.artifacts import save_file

LIMITS = json.dumps({"wallMs": 30000, "cpuMs": 10000, "outputBytes": 1, "memoryBytes": 1, "processes": 1, "openFiles": 20, "fileSizeBytes": 1})


def write(r: redis.Redis, task_id: str, *entries: dict) -> None:
    for e in entries:
        r.xadd(f"executor:results:{task_id}", e)


def started(attempt: int, **extra: str) -> dict:
    return {"type": "started", "executor": "e", "attempt": str(attempt), "limits": LIMITS, "sandbox": "none", **extra}


def exit_entry(attempt: int, **result: object) -> dict:
    body = {"status": "ok", "exitCode": 0, "signal": None, "wallMs": 1, "cpuMs": 1, "stdoutBytes": 3, "stderrBytes": 0, "truncated": False, "attempt": attempt, **result}
    return {"type": "exit", "result": json.dumps(body), "attempt": str(attempt)}


def test_output_of_an_older_attempt_is_not_part_of_the_result(redis_url: str) -> None:
    r = redis.Redis.from_url(redis_url)
    task_id = f"w-{uuid.uuid4().hex[:8]}"
    write(
        r, task_id,
        started(1), {"type": "stdout", "data": b"old\n", "attempt": "1"},
        {"type": "file", "path": "a.txt", "data": b"old", "part": "1", "parts": "1", "attempt": "1"},
        started(2), {"type": "stdout", "data": b"new\n", "attempt": "2"},
        {"type": "brand-new-kind", "data": b"?"},
        exit_entry(2),
    )
    seen = []
    with Client(redis_url) as c:
        sub = c.follow(task_id, on_started=lambda e: seen.append(e.attempt), on_stdout=seen.append)
        result = sub.result(timeout=5)
        events = list(sub.events())
    assert result.stdout == "new\n" and result.files == {} and result.attempt == 2
    assert result.started is not None and result.started.attempt == 2
    # Callbacks and events see both attempts, each after its own Started (the README's rule).
    assert seen == [1, b"old\n", 2, b"new\n"]
    kinds = [(type(e).__name__, getattr(e, "attempt", None)) for e in events]
    assert kinds == [("Started", 1), ("Stdout", 1), ("FilePart", 1), ("Started", 2), ("Stdout", 2), ("Exit", None)]


def test_display_parts_are_joined_by_display_and_mime(redis_url: str) -> None:
    r = redis.Redis.from_url(redis_url)
    task_id = f"w-{uuid.uuid4().hex[:8]}"
    write(
        r, task_id, started(1),
        {"type": "display", "mime": "image/png", "data": b"AB", "display": "1", "part": "1", "parts": "2", "attempt": "1"},
        {"type": "display", "mime": "image/png", "data": b"CD", "display": "1", "part": "2", "parts": "2", "attempt": "1"},
        {"type": "display", "mime": "text/plain", "data": b"<Figure>", "display": "1", "attempt": "1"},
        {"type": "display", "mime": "text/plain", "data": b"2", "display": "2", "attempt": "1"},
        exit_entry(1),
    )
    with Client(redis_url) as c:
        result = c.follow(task_id).result(timeout=5)
    assert [(d.index, d.data) for d in result.displays] == [(1, {"image/png": b"ABCD", "text/plain": b"<Figure>"}), (2, {"text/plain": b"2"})]
    assert result.displays[0].image == b"ABCD" and result.displays[1].image is None


def feed(follower: Follower, *entries: dict) -> None:
    follower.feed([(b"k", [(f"{i}-0".encode(), {k.encode(): (v if isinstance(v, bytes) else v.encode()) for k, v in e.items()}) for i, e in enumerate(entries, 1)])])


def test_a_cell_taken_by_an_executor_without_sessions_is_an_error() -> None:
    f = Follower("t", Callbacks(), session="s1", opens_session=True)
    with pytest.raises(ExecutorError, match="does not know sessions") as raised:
        feed(f, started(1))
    assert raised.value.code == ErrorCode.SESSION_UNSUPPORTED


def test_a_first_cell_that_ran_as_a_later_one_means_the_id_was_taken() -> None:
    f = Follower("t", Callbacks(), session="s1", opens_session=True)
    with pytest.raises(ExecutorError, match="already in use") as raised:
        feed(f, started(1, session="s1", cell="4", sessionStream="x", idleDeadline="1", lifetimeDeadline="2"))
    assert raised.value.code == ErrorCode.SESSION_ID_TAKEN


@pytest.mark.parametrize(
    "path, why",
    [
        ("..\\..\\x", "backslash"),
        ("a\\b", "backslash"),
        ("C:x", "drive letter"),
        ("c:/Windows/x", "drive letter"),
        (".. /x", "dot or a space"),
        (".../x", "dot or a space"),
        ("a/b.", "dot or a space"),
        ("../x", "plain relative"),
        ("/etc/x", "plain relative"),
        ("a//b", "plain relative"),
    ],
)
def test_artifact_paths_that_could_leave_the_folder_are_refused(path: str, why: str, tmp_path) -> None:
    assert why in (unsafe_artifact_path(path) or "")
    with pytest.raises(ExecutorError) as raised:
        save_file(tmp_path / "out", path, b"x")
    assert raised.value.code == ErrorCode.ARTIFACT_PATH_REFUSED
    assert not (tmp_path / "out").exists()


def test_windows_only_names_are_refused_for_windows() -> None:
    assert unsafe_artifact_path("NUL.txt", "win32") == "a Windows device name"
    assert unsafe_artifact_path("a:b", "win32") is not None
    assert unsafe_artifact_path("run 10:00.log", "linux") is None


@pytest.mark.parametrize("path", ["table.csv", "plots/a.b.png", "run 10:00.log", ".hidden"])
def test_plain_artifact_paths_are_written(path: str, tmp_path) -> None:
    with open(save_file(tmp_path, path, b"x"), "rb") as f:
        assert f.read() == b"x"


@pytest.mark.parametrize(
    "entry",
    [
        {"type": "exit", "result": "{not json"},
        {"type": "exit", "result": "null"},
        {"type": "exit", "result": "[1,2]"},
        {"type": "exit", "result": json.dumps({"status": "ok", "artifacts": ["x"]})},
        {"type": "exit", "result": json.dumps({"status": "ok", "sweep": "x"})},
        {"type": "started", "executor": "e", "attempt": "²", "limits": LIMITS},
        {"type": "started", "executor": "e", "attempt": "1", "limits": "[]"},
        {"type": "stdout", "data": b"x", "attempt": "9" * 5000},
        {"type": "display", "mime": "text/plain", "data": b"x", "display": "1", "part": "¹"},
    ],
)
def test_a_malformed_entry_is_one_clear_error(redis_url: str, entry: dict) -> None:
    r = redis.Redis.from_url(redis_url)
    task_id = f"w-{uuid.uuid4().hex[:8]}"
    write(r, task_id, entry)
    with Client(redis_url) as c:
        with pytest.raises(ExecutorError, match=rf"results entry \d+-\d+ of task {task_id} is malformed") as raised:
            c.follow(task_id).result(timeout=5)
    assert raised.value.code == ErrorCode.RESULT_MALFORMED


def test_a_refused_artifact_name_is_skipped_and_the_result_still_comes(redis_url: str, tmp_path) -> None:
    from agent_executor import ArtifactSkipped, artifact_saver

    r = redis.Redis.from_url(redis_url)
    task_id = f"w-{uuid.uuid4().hex[:8]}"
    file = lambda p, d: {"type": "file", "path": p, "data": d, "part": "1", "parts": "1", "attempt": "1"}
    write(r, task_id, started(1), file("0\\\\x", b"evil"), file("report.txt", b"fine"), file("z\\\\evil", b"evil"), exit_entry(1))
    with Client(redis_url) as c:
        with pytest.warns(ArtifactSkipped, match="backslash"):
            result = c.follow(task_id, on_file=artifact_saver(tmp_path / "streamed")).result(timeout=5)
        assert result.status == "ok"
        with pytest.warns(ArtifactSkipped):
            saved = result.save_artifacts(tmp_path / "saved")
    assert [p.rsplit("/", 1)[-1] for p in saved] == ["report.txt"]
    assert sorted(p.name for p in (tmp_path / "streamed").iterdir()) == ["report.txt"]


def test_the_saver_writes_through_no_link_left_in_the_folder(tmp_path) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "victim").write_text("mine")
    folder = tmp_path / "artifacts"
    folder.mkdir()
    (folder / "x").symlink_to(outside / "victim")
    (folder / "d").symlink_to(outside)
    for path in ("x", "d/new"):
        with pytest.raises(ExecutorError) as raised:
            save_file(folder, path, b"PWNED")
        assert raised.value.code == ErrorCode.ARTIFACT_PATH_REFUSED
    assert (outside / "victim").read_text() == "mine" and not (outside / "new").exists()
    # A file where a folder is needed is refused too, not a crash.
    save_file(folder, "a", b"1")
    with pytest.raises(ExecutorError):
        save_file(folder, "a/b", b"2")
