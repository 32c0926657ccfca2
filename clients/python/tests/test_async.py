"""The asyncio client against a real executor."""

from __future__ import annotations

import asyncio

import pytest

from agent_executor import AsyncClient, ErrorCode, ExecutorError, Exit, Started


def run(coro):
    return asyncio.run(coro)


def test_submit_iterate_and_await_the_result(executor) -> None:
    async def main():
        async with AsyncClient(executor["url"], stream=executor["stream"]) as c:
            sub = await c.submit("python", "print('a'); print('b')")
            events = [e async for e in sub.events(timeout=30)]
            return events, await sub.result()

    events, result = run(main())
    assert isinstance(events[0], Started) and isinstance(events[-1], Exit)
    assert result.ok and result.stdout == "a\nb\n"


def test_many_tasks_at_once_on_one_client(executor) -> None:
    async def main():
        async with AsyncClient(executor["url"], stream=executor["stream"]) as c:
            return await asyncio.gather(*(c.run("bash", f"echo {i}", timeout=60) for i in range(6)))

    results = run(main())
    assert [r.stdout for r in results] == [f"{i}\n" for i in range(6)]


def test_session_and_cancel(executor) -> None:
    async def main():
        async with AsyncClient(executor["url"], stream=executor["stream"]) as c:
            async with c.session("python") as s:
                await s.run("n = 10", timeout=60)
                sub = await s.submit("import time\ntime.sleep(30)")
                await sub.wait_started(timeout=30)
                await c.cancel(sub.id)
                cancelled = await sub.result(timeout=10)
                value = await s.run("n * 2", timeout=30)
            return cancelled, value

    cancelled, value = run(main())
    assert cancelled.status == "cancelled"
    assert value.ok and value.displays[0].text == "20"


def test_unreachable_redis() -> None:
    async def main():
        async with AsyncClient("redis://127.0.0.1:1") as c:
            await c.submit("bash", "true")

    with pytest.raises(ExecutorError) as raised:
        run(main())
    assert raised.value.code == ErrorCode.CLIENT_UNREACHABLE


def test_waiting_without_a_timeout(executor) -> None:
    async def main():
        async with AsyncClient(executor["url"], stream=executor["stream"]) as c:
            sub = await c.submit("bash", "sleep 1.5; echo late")
            kinds = [type(e).__name__ async for e in sub.events()]
            return kinds, await sub.result(), await c.run("bash", "echo plain")

    kinds, late, plain = run(main())
    assert kinds[-1] == "Exit" and late.stdout == "late\n" and plain.stdout == "plain\n"
