"""Earlier cases for a bench's read model, so that a bench can tell whether a case costs
more beside a long history than in an empty database:

    python bench/history.py DATABASE_URL COUNT

writes COUNT ended cases of another retailer (bench/insights.py's mix: RMAs, repairs worked
by three repair centers, replacements, service plans, with their items, orders and ratings)
straight into a migrated read model. `bench/repair_flow.py --history N` and
`bench/start_rate.py --history N` run it before the worker and the API start. The ids are
fixed: a database holds one history (SQLite, the benches' default, is new each run).
"""

from __future__ import annotations

import asyncio
import sys
import time

from insights import seed

from db import models
from db.session import make_engine, make_sessionmaker

CENTERS = 3


async def write_history(url: str, count: int) -> None:
    engine = make_engine(url)
    sessions = make_sessionmaker(engine)
    async with sessions.begin() as session:
        shop = models.Organisation(name="Earlier retailer", kind="retailer")
        centers = [
            models.Organisation(name=f"Earlier center {n}", kind="repair_center")
            for n in range(CENTERS)
        ]
        session.add_all([shop, *centers])
    await seed(sessions, shop.id, [center.id for center in centers], count)
    await engine.dispose()


if __name__ == "__main__":
    started = time.perf_counter()
    asyncio.run(write_history(sys.argv[1], int(sys.argv[2])))
    print(f"history: {sys.argv[2]} earlier cases in {time.perf_counter() - started:.0f} s")
