"""The same calls against a three-node Redis Cluster (REDIS_CLUSTER_NODES), sync and asyncio."""

from __future__ import annotations

import asyncio

from agent_executor import AsyncClient, Client


def test_run_cancel_and_a_session_on_a_cluster(cluster_executor, monkeypatch) -> None:
    monkeypatch.setenv("REDIS_CLUSTER_NODES", cluster_executor["nodes"])
    with Client(stream=cluster_executor["stream"]) as c:
        assert c.settings.cluster_nodes and c.run("bash", "echo clustered", timeout=60).stdout == "clustered\n"
        sub = c.submit("bash", "sleep 30")
        sub.wait_started(timeout=30)
        c.cancel(sub.id)
        assert sub.result(timeout=10).status == "cancelled"
        with c.session("python") as s:
            s.run("v = 'kept'", timeout=60)
            assert s.run("v", timeout=30).displays[0].text == "'kept'"
            assert s.id in [info.id for info in c.sessions()]


def test_asyncio_on_a_cluster(cluster_executor) -> None:
    async def main():
        async with AsyncClient(cluster_nodes=cluster_executor["nodes"], stream=cluster_executor["stream"]) as c:
            return await c.run("python", "print(2 ** 10)", timeout=60)

    assert asyncio.run(main()).stdout == "1024\n"
