"""The synchronous client against a real executor and Redis."""

from __future__ import annotations

import datetime as dt
import os
import time
import uuid

import pytest

from agent_executor import Client, ErrorCode, Exit, ExecutorError, RunFailed, Started, Stdout, artifact_saver


def test_run_returns_a_typed_result_with_the_output(client: Client) -> None:
    result = client.run("python", "print(6 * 7)", timeout=30)
    assert result.status == "ok" and result.ok
    assert result.exit_code == 0 and result.signal is None
    assert result.stdout == "42\n" and result.stdout_raw == b"42\n"
    assert result.stdout_bytes == 3 and not result.truncated
    assert result.attempt == 1 and result.sweep is not None and result.sweep.clean
    assert result.started is not None and result.started.limits.wall_ms > 0 and result.started.sandbox == "none"
    assert result.raw["status"] == "ok" and result.raw["stdoutBytes"] == 3


def test_events_come_in_order_with_started_first_and_exit_last(client: Client) -> None:
    sub = client.submit("bash", "echo out; echo err >&2; exit 3")
    events = list(sub.events(timeout=30))
    assert isinstance(events[0], Started) and events[0].attempt == 1
    assert isinstance(events[-1], Exit)
    assert b"".join(e.data for e in events if isinstance(e, Stdout)) == b"out\n"
    result = sub.result()
    assert (result.status, result.exit_code, result.stderr) == ("error", 3, "err\n")
    with pytest.raises(RunFailed, match=r"ended error \(exit code 3\)"):
        result.raise_for_status()


def test_callbacks_receive_output_as_it_is_written(client: Client) -> None:
    seen = []
    sub = client.submit(
        "python",
        "import time, sys\nprint('first', flush=True)\ntime.sleep(0.5)\nprint('second', file=sys.stderr)",
        on_started=lambda e: seen.append(("started", e.attempt)),
        on_stdout=lambda b: seen.append(("stdout", b)),
        on_stderr=lambda b: seen.append(("stderr", b)),
    )
    # The first line is there before the run ends (it is streamed, not sent with the result).
    for event in sub.events(timeout=30):
        if isinstance(event, Stdout):
            assert not sub.done
            break
    assert sub.result(timeout=30).ok
    # Chunks of one stream in a row are joined: print may write the text and its newline apart.
    joined: list = []
    for kind, data in seen:
        if joined and kind != "started" and joined[-1][0] == kind:
            joined[-1] = (kind, joined[-1][1] + data)
        else:
            joined.append((kind, data))
    assert joined == [("started", 1), ("stdout", b"first\n"), ("stderr", b"second\n")]


def test_stdin_args_env_files_in_and_artifacts_out(client: Client, tmp_path) -> None:
    code = (
        "import os, sys\n"
        "data = open('data/in.csv').read()\n"
        "blob = open('blob.bin', 'rb').read()\n"
        "os.makedirs('out/sub', exist_ok=True)\n"
        "open('out/report.txt', 'w').write(data.upper() + sys.stdin.read() + ' '.join(sys.argv[1:]) + os.environ['GREETING'])\n"
        "open('out/sub/copy.bin', 'wb').write(blob)\n"
    )
    streamed = tmp_path / "streamed"
    result = client.run(
        "python",
        code,
        stdin="from stdin;",
        args=["a", "b"],
        env={"GREETING": ";hello"},
        files={"data/in.csv": "x,y\n", "blob.bin": bytes(range(256))},
        on_file=artifact_saver(streamed),
        timeout=30,
    )
    assert result.ok, result.stderr
    assert result.files == {"report.txt": b"X,Y\nfrom stdin;a b;hello", "sub/copy.bin": bytes(range(256))}
    assert {a.path: a.included for a in result.artifacts} == {"report.txt": True, "sub/copy.bin": True}
    saved = result.save_artifacts(tmp_path / "saved")
    assert sorted(os.path.relpath(p, tmp_path / "saved") for p in saved) == ["report.txt", os.path.join("sub", "copy.bin")]
    assert (streamed / "sub" / "copy.bin").read_bytes() == bytes(range(256))


def test_limits_lower_the_budget_and_the_status_says_which(client: Client) -> None:
    result = client.run("bash", "sleep 30", limits={"wall_ms": 500}, timeout=30)
    assert result.status == "timeout" and "wall-clock" in (result.error or "")
    assert result.started is not None and result.started.limits.wall_ms == 500
    cpu = client.run("python", "while True: pass", limits={"cpuMs": 300}, timeout=30)
    assert cpu.status == "cpu_limit"


def test_an_unknown_runtime_is_rejected_by_the_executor(client: Client) -> None:
    result = client.run("cobol", "DISPLAY 'HI'", timeout=30)
    assert result.status == "rejected" and "cobol" in (result.error or "")
    assert result.started is None


@pytest.mark.parametrize(
    "kwargs, words",
    [
        ({"id": "no spaces allowed"}, "id must be 1-128 characters"),
        ({"limits": {"wall_seconds": 5}}, "unknown limit"),
        ({"limits": {"wall_ms": -1}}, "positive integer"),
        ({"files": {"../escape": "x"}}, "no \"..\" segments"),
        ({"files": {"/etc/passwd": "x"}}, "must be relative"),
        ({"env": {"1BAD": "x"}}, "env name"),
        ({"traceparent": "nope"}, "W3C trace context"),
    ],
)
def test_bad_input_is_refused_before_anything_is_sent(client: Client, executor, kwargs, words) -> None:
    before = client._redis.xlen(executor["stream"])
    with pytest.raises(ExecutorError, match=words) as raised:
        client.submit("python", "print(1)", **kwargs)
    assert raised.value.code == ErrorCode.USAGE
    assert client._redis.xlen(executor["stream"]) == before


def test_a_task_over_the_size_cap_is_refused_here(executor) -> None:
    with Client(executor["url"], stream=executor["stream"], max_task_bytes=1000) as c:
        with pytest.raises(ExecutorError, match="EXECUTOR_TASK_BYTES") as raised:
            c.submit("python", "#" * 2000)
        assert raised.value.code == ErrorCode.TASK_TOO_LARGE


def test_an_id_that_has_run_is_refused(client: Client) -> None:
    task_id = f"py-{uuid.uuid4().hex[:8]}"
    assert client.run("bash", "true", id=task_id, timeout=30).ok
    with pytest.raises(ExecutorError) as raised:
        client.submit("bash", "true", id=task_id)
    assert raised.value.code == ErrorCode.TASK_ID_USED


def test_cancel_stops_a_running_task(client: Client) -> None:
    sub = client.submit("bash", "sleep 30")
    sub.wait_started(timeout=30)
    t0 = time.monotonic()
    client.cancel(sub.id)
    result = sub.result(timeout=10)
    assert result.status == "cancelled"
    assert time.monotonic() - t0 < 5


def test_follow_reads_a_task_from_its_first_entry(client: Client) -> None:
    sub = client.submit("bash", "echo followed")
    sub.result(timeout=30)
    again = client.follow(sub.id).result(timeout=5)
    assert again.stdout == "followed\n" and again.status == "ok"


def test_result_timeout_is_an_error_that_says_so(client: Client) -> None:
    sub = client.submit("bash", "sleep 3")
    with pytest.raises(ExecutorError, match="within 0.3 s") as raised:
        sub.result(timeout=0.3)
    assert raised.value.code == ErrorCode.CLIENT_TIMEOUT
    client.cancel(sub.id)


def test_a_past_deadline_expires_the_task_without_running_it(client: Client) -> None:
    past = dt.datetime.now(dt.timezone.utc) - dt.timedelta(seconds=5)
    sub = client.submit("bash", "echo never", deadline=past)
    result = sub.result(timeout=30)
    assert result.status == "expired" and result.stdout == ""
    with pytest.raises(ExecutorError) as raised:
        client.follow(sub.id).wait_started(timeout=5)
    assert raised.value.code == ErrorCode.CLIENT_CLOSED


def test_traceparent_is_carried_into_the_started_entry(client: Client) -> None:
    tp = "00-" + "a" * 32 + "-" + "b" * 16 + "-01"
    result = client.run("bash", "true", traceparent=tp, timeout=30)
    assert result.started is not None and result.started.traceparent == tp


def test_unreachable_redis_is_one_clear_error() -> None:
    with Client("redis://127.0.0.1:1") as c:
        with pytest.raises(ExecutorError, match=r"cannot reach Redis at 127\.0\.0\.1:1") as raised:
            c.submit("bash", "true")
    assert raised.value.code == ErrorCode.CLIENT_UNREACHABLE


def test_the_url_comes_from_redis_url_file_then_redis_url(executor, tmp_path, monkeypatch) -> None:
    url_file = tmp_path / "url"
    url_file.write_text(executor["url"] + "\n")
    monkeypatch.setenv("REDIS_URL", "redis://127.0.0.1:1")
    monkeypatch.setenv("REDIS_URL_FILE", str(url_file))
    monkeypatch.setenv("EXECUTOR_STREAM", executor["stream"])
    with Client() as c:
        assert c.run("bash", "echo via-file", timeout=30).stdout == "via-file\n"
    monkeypatch.delenv("REDIS_URL_FILE")
    with Client() as c:
        assert c.settings.address == "127.0.0.1:1"
    monkeypatch.setenv("REDIS_URL_FILE", str(tmp_path / "missing"))
    with pytest.raises(ExecutorError, match="REDIS_URL_FILE") as raised:
        Client()
    assert raised.value.code == ErrorCode.CONFIG_INVALID


def test_waiting_without_a_timeout_waits_for_the_answer(client: Client) -> None:
    # The guide's examples leave the timeout out: every wait must work without one.
    sub = client.submit("bash", "sleep 1.5; echo late")
    assert sub.wait_started().attempt == 1
    assert [type(e).__name__ for e in sub.events()][-1] == "Exit"
    assert sub.result().stdout == "late\n"
    assert client.run("bash", "echo plain").stdout == "plain\n"


def test_a_closed_client_says_so(executor) -> None:
    c = Client(executor["url"], stream=executor["stream"])
    c.close()
    with pytest.raises(ExecutorError, match="closed") as raised:
        c.submit("bash", "true")
    assert raised.value.code == ErrorCode.CLIENT_CLOSED


def test_a_timeout_on_a_stream_no_executor_reads_says_so(executor) -> None:
    with Client(executor["url"], stream=f"nobody-{uuid.uuid4().hex[:6]}:tasks") as c:
        with pytest.raises(ExecutorError, match="no executor has ever read the stream") as raised:
            c.run("bash", "true", timeout=0.5)
    assert raised.value.code == ErrorCode.CLIENT_TIMEOUT


def test_a_result_prints_short(client: Client) -> None:
    result = client.run("python", "print('x' * 5000)", timeout=30)
    assert len(repr(result)) < 600 and "xxxxx" not in repr(result)


@pytest.mark.parametrize("url", ["http:/:hunter2@x", "redis://:hunter2@h:99999", "redis//:hunter2@h", "redis://h:99999/?password=hunter2"])
def test_a_bad_url_is_refused_without_its_password(url: str) -> None:
    with pytest.raises(ExecutorError) as raised:
        Client(url)
    assert raised.value.code == ErrorCode.CONFIG_INVALID and "hunter2" not in str(raised.value)
