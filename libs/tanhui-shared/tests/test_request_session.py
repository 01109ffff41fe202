"""The request's session (SessionDep) is made and closed on the event loop, without a worker
thread, yet whatever it does with the database, giving its connection back included, never
happens on the loop."""
from __future__ import annotations

import threading

import sqlalchemy as sa
from fastapi import FastAPI
from fastapi.testclient import TestClient

from tanhui_shared.db import make_engine
from tanhui_shared.service import SessionDep
from tanhui_shared.uow import run_unit_of_work


def test_a_session_left_in_a_transaction_is_rolled_back_off_the_event_loop(infra) -> None:
    engine = make_engine(infra.database_url, pool_size=1)
    given_back: list[int] = []  # the threads that returned a connection to the pool (a rollback)
    sa.event.listen(engine, "checkin", lambda *_: given_back.append(threading.get_ident()))
    app = FastAPI()
    app.state.engine = engine

    @app.get("/loop")
    async def loop() -> int:
        return threading.get_ident()

    @app.get("/read")  # a read's transaction is left to the session's close
    def read(session: SessionDep) -> int:
        return session.execute(sa.text("SELECT 1")).scalar_one()

    @app.get("/write")  # a unit of work ends its transaction itself
    def write(session: SessionDep) -> int:
        return run_unit_of_work(session, lambda uow: uow.session.execute(
            sa.text("SELECT 2")).scalar_one())

    @app.get("/nothing")  # a session never used holds no connection
    def nothing(session: SessionDep) -> bool:
        return session.in_transaction()

    try:
        with TestClient(app) as client:
            loop_thread = client.get("/loop").json()
            assert [client.get(p).json() for p in ("/read", "/write", "/nothing")] == [1, 2, False]
        assert len(given_back) == 2 and loop_thread not in given_back
        assert engine.pool.checkedout() == 0
    finally:
        engine.dispose()
