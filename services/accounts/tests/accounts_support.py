"""What every integrity test of accounts checks afterwards, straight from the tables."""
from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import sqlalchemy as sa

from tanhui_accounts.domain.points import EntryKind
from tanhui_accounts.domain.trip_batch import CITY_TZ
from tanhui_accounts.store.points import post_entry
from tanhui_shared.uow import in_unit_of_work

PROBLEM = "application/problem+json"
# 01:00 in the city three days ago: twenty rides 40 minutes apart all start on that day
CITY_DAY = (datetime.now(CITY_TZ) - timedelta(days=3)).replace(hour=1, minute=0, second=0,
                                                              microsecond=0)


def ride(start: datetime, *, mode: str = "metro", km: str = "20", minutes: int = 25,
         external_id: str | None = None) -> dict:
    return {"mode": mode, "distance_km": km, "started_at": start.astimezone(UTC).isoformat(),
            "ended_at": (start + timedelta(minutes=minutes)).astimezone(UTC).isoformat(),
            "external_id": external_id or uuid.uuid4().hex}


def grant_points(engine, user_id: str, points: int) -> None:
    in_unit_of_work(engine, lambda uow: post_entry(uow.session, user_id, EntryKind.EARN, points))


# Per account: its figures, what its entries add up to, and the figures its newest entry records.
_LEDGERS = sa.text("""
SELECT a.user_id, a.balance, a.held,
       coalesce(sum(CASE e.kind WHEN 'earn' THEN e.points WHEN 'settle' THEN -e.points
                    WHEN 'expire' THEN -e.points ELSE 0 END), 0) AS entries_balance,
       coalesce(sum(CASE e.kind WHEN 'hold' THEN e.points WHEN 'earn' THEN 0
                    WHEN 'expire' THEN 0 ELSE -e.points END), 0) AS entries_held,
       (SELECT array[l.balance_after, l.held_after] FROM points_entry l
        WHERE l.user_id = a.user_id ORDER BY l.id DESC LIMIT 1) AS newest
FROM points_account a LEFT JOIN points_entry e ON e.user_id = a.user_id
GROUP BY a.user_id, a.balance, a.held
""")


def ledger_mismatches(engine) -> list[tuple]:
    """Accounts whose entries do not add up to their balance and hold, whose newest entry
    records other figures, or whose figures are out of range: [] when every ledger is sound."""
    with engine.connect() as conn:
        rows = conn.execute(_LEDGERS).all()
    return [tuple(r) for r in rows
            if (r.balance, r.held) != (r.entries_balance, r.entries_held)
            or (r.newest is not None and list(r.newest) != [r.balance, r.held])
            or not 0 <= r.held <= r.balance]


# Per (citizen, day, cap group): the points its trips earned, beside the cap row's figures.
_DAYS = sa.text("""
SELECT t.user_id, t.local_day, t.cap_group, t.points, d.earned, d.cap
FROM (SELECT user_id, local_day, mode AS cap_group, sum(points) AS points
      FROM green_trip GROUP BY 1, 2, 3
      UNION ALL
      SELECT user_id, local_day, 'all', sum(points) FROM green_trip GROUP BY 1, 2) t
LEFT JOIN daily_points d USING (user_id, local_day, cap_group)
WHERE t.points > 0
""")


def cap_mismatches(engine) -> list[tuple]:
    """Days whose trips earned more than the cap, or other than their cap row says."""
    with engine.connect() as conn:
        rows = conn.execute(_DAYS).all()
    return [tuple(r) for r in rows if r.earned != r.points or r.points > r.cap]


def scalar(engine, sql: str, **params):
    with engine.connect() as conn:
        return conn.execute(sa.text(sql), params).scalar_one()


def every_disclosure(http, **params) -> list[dict]:
    """The disclosures, read a page at a time as every client must (the test database is shared,
    so one page need not hold the rows a test looks for)."""
    found: list[dict] = []
    after: str | None = None
    while True:
        reply = http.get("/api/v1/disclosures", params={**params, "limit": 200,
                                                        **({"after": after} if after else {})})
        assert reply.status_code == 200, reply.text
        page = reply.json()
        found += page["items"]
        if not (after := page["next"]):
            return found
