"""A web worker runs at most its connection pool's size of units of work at once; the others wait on the loop."""

from types import SimpleNamespace

import anyio
from sqlalchemy import create_engine

from api.db import POOL_SIZE, admitted_units
from api.deps import _admitted


def request_with(limit):
    return SimpleNamespace(app=SimpleNamespace(state=SimpleNamespace(admitted_units=limit)))


def test_units_beyond_the_limit_wait_for_one_to_end():
    async def main() -> list[str]:
        request, log = request_with(2), []
        leave = anyio.Event()

        async def unit(name: str) -> None:
            async with _admitted(request):
                log.append(f"in {name}")
                await leave.wait()
                log.append(f"out {name}")

        async with anyio.create_task_group() as group:
            for name in "abc":
                group.start_soon(unit, name)
                await anyio.sleep(0.01)
            assert log == ["in a", "in b"]  # c waits: no thread, no connection taken
            leave.set()
        return log

    log = anyio.run(main)
    assert log.index("in c") > min(log.index("out a"), log.index("out b"))


def test_no_limit_admits_everyone():
    async def main() -> int:
        inside = 0
        for _ in range(50):
            async with _admitted(request_with(None)):
                inside += 1
        return inside

    assert anyio.run(main) == 50


def test_a_postgresql_worker_admits_its_pool_and_sqlite_queues_its_writers_itself():
    assert admitted_units(create_engine("postgresql+psycopg://nobody@127.0.0.1/none")) == POOL_SIZE
    assert admitted_units(create_engine("sqlite://")) is None
