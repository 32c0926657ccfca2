"""A real redis-server and a real executor (the repository's built daemon), started once per run.

The executor runs as sandbox uids of its own (PYTEST_SANDBOX_UID, default 64700: six uids, three
runtimes with two standby slots), so it never sweeps another executor's processes.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import tempfile
import threading
import time
import uuid
from pathlib import Path
from typing import Dict, Iterator, List

import pytest
import redis

REPO = Path(__file__).resolve().parents[3]
BIN = REPO / "dist" / "cli" / "main.js"
DEBIAN_PYTHON = "/usr/bin/python3"


def free_port(below: int = 65536) -> int:
    """A free loopback port; a cluster node needs one below 55536 (its bus is the port + 10000)."""
    while True:
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
        if port < below:
            return port


def wait_until(what: str, check, timeout: float = 20.0):
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value:
            return value
        if time.monotonic() > deadline:
            raise TimeoutError(f"timed out after {timeout} s waiting for {what}")
        time.sleep(0.02)


def has_matplotlib(python: str) -> bool:
    return subprocess.run([python, "-c", "import matplotlib"], capture_output=True).returncode == 0


@pytest.fixture(scope="session")
def redis_url() -> Iterator[str]:
    port = free_port()
    data = tempfile.mkdtemp(prefix="pytest-redis-")
    proc = subprocess.Popen(
        ["redis-server", "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no", "--dir", data],
        stdout=subprocess.DEVNULL,
    )
    url = f"redis://127.0.0.1:{port}"
    probe = redis.Redis.from_url(url)

    def up() -> bool:
        try:
            return bool(probe.ping())
        except redis.exceptions.ConnectionError:
            return False

    wait_until("redis-server", up)
    yield url
    proc.terminate()
    proc.wait(10)
    shutil.rmtree(data, ignore_errors=True)


class Executor:
    """The daemon's process, its log lines (JSON) collected as they come."""

    def __init__(self, env: Dict[str, str]) -> None:
        self.logs: List[dict] = []
        self.proc = subprocess.Popen(["node", str(BIN), "serve"], env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            try:
                self.logs.append(json.loads(line))
            except ValueError:
                self.logs.append({"msg": line.rstrip()})

    def wait_log(self, msg: str, timeout: float = 30.0) -> dict:
        def seen():
            if self.proc.poll() is not None:
                raise RuntimeError(f"the executor exited ({self.proc.returncode}): {self.logs[-5:]}")
            return next((l for l in self.logs if l.get("msg") == msg), None)

        return wait_until(f"log {msg!r}", seen, timeout)

    def stop(self) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(30)
        except subprocess.TimeoutExpired:
            self.proc.kill()


@pytest.fixture(scope="session")
def python_with_matplotlib() -> bool:
    return has_matplotlib(DEBIAN_PYTHON)


@pytest.fixture(scope="session")
def executor(redis_url: str, python_with_matplotlib: bool) -> Iterator[Dict[str, str]]:
    yield from run_executor({"REDIS_URL": redis_url}, python_with_matplotlib, os.environ.get("PYTEST_SANDBOX_UID", "64700"), {"url": redis_url})


def run_executor(redis_env: Dict[str, str], python_with_matplotlib: bool, uid: str, info: Dict[str, str]) -> Iterator[Dict[str, str]]:
    if not BIN.exists():
        pytest.fail(f"{BIN} is missing: build the package first (npm ci / npm run build)")
    # The stock runtimes, with python as Debian's own (it has matplotlib for the chart tests).
    runtimes = Path(tempfile.mkdtemp(prefix="pytest-runtimes-"))
    for profile in (REPO / "runtime-profiles" / "runtimes").glob("*.json"):
        spec = json.loads(profile.read_text())
        if spec["name"] == "python" and python_with_matplotlib:
            spec["command"][0] = DEBIAN_PYTHON
            spec["session"]["command"][0] = DEBIAN_PYTHON
        (runtimes / profile.name).write_text(json.dumps(spec))
    # A hash tag keeps the task stream and its control stream in one slot on a cluster.
    stream = f"{{pytest-{uuid.uuid4().hex[:8]}}}:tasks"
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        **redis_env,
        "EXECUTOR_STREAM": stream,
        "EXECUTOR_CONSUMER": f"pytest-{uuid.uuid4().hex[:8]}",
        "EXECUTOR_SANDBOX_USER": uid,
        "EXECUTOR_SWEEP_DIRS": "/tmp:/var/tmp:/dev/shm:/run/lock",
        "EXECUTOR_BLOCK_MS": "500",
        "EXECUTOR_MAX_RUNS": "100000",
        "EXECUTOR_RUNTIMES_DIR": str(runtimes),
        "LOG_LEVEL": "info",
    }
    if os.getuid() != 0:
        env["EXECUTOR_ALLOW_SHARED_USER"] = "1"
    daemon = Executor(env)
    try:
        daemon.wait_log("executor started", 60)
        yield {**info, "stream": stream}
    finally:
        daemon.stop()
        shutil.rmtree(runtimes, ignore_errors=True)


@pytest.fixture()
def client(executor: Dict[str, str]):
    from agent_executor import Client

    with Client(executor["url"], stream=executor["stream"]) as c:
        yield c


@pytest.fixture(scope="session")
def redis_cluster() -> Iterator[str]:
    """Three masters on loopback, slots spread by redis-cli --cluster create; yields host:port,..."""
    procs, dirs, nodes = [], [], []
    for _ in range(3):
        port = free_port(below=55536)
        d = tempfile.mkdtemp(prefix="pytest-cluster-")
        dirs.append(d)
        procs.append(subprocess.Popen(
            ["redis-server", "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no", "--dir", d,
             "--cluster-enabled", "yes", "--cluster-config-file", "nodes.conf", "--cluster-node-timeout", "5000"],
            stdout=subprocess.DEVNULL,
        ))
        nodes.append(f"127.0.0.1:{port}")
    try:
        for n in nodes:
            wait_until(f"redis node {n}", lambda n=n: subprocess.run(["redis-cli", "-p", n.split(":")[1], "ping"], capture_output=True).stdout.strip() == b"PONG")
        subprocess.run(["redis-cli", "--cluster", "create", *nodes, "--cluster-replicas", "0", "--cluster-yes"], check=True, capture_output=True, timeout=30)
        for n in nodes:
            wait_until("the cluster", lambda n=n: b"cluster_state:ok" in subprocess.run(["redis-cli", "-p", n.split(":")[1], "cluster", "info"], capture_output=True).stdout, 30)
        yield ",".join(nodes)
    finally:
        for p in procs:
            p.terminate()
            p.wait(10)
        for d in dirs:
            shutil.rmtree(d, ignore_errors=True)


@pytest.fixture(scope="session")
def cluster_executor(redis_cluster: str, python_with_matplotlib: bool) -> Iterator[Dict[str, str]]:
    uid = str(int(os.environ.get("PYTEST_SANDBOX_UID", "64700")) + 10)
    yield from run_executor({"REDIS_CLUSTER_NODES": redis_cluster}, python_with_matplotlib, uid, {"nodes": redis_cluster})
