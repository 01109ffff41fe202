"""What a feed's accepted trips add to, written after its trips and ledger entries
(store/trips.py): the day's cap rows and the citizens' accounts, each one statement for the whole
feed, and the check that the accounts as written add up to the entries' running figures."""
from __future__ import annotations

from collections import defaultdict
from decimal import Decimal

from pydantic_core import to_json

from tanhui_shared.errors import Conflict

from ..domain.trip_batch import TripDecision


def as_json(values: list) -> str:
    """A statement's column of values as one JSON array (text, ISO dates, integers, Decimals as
    their exact text), read back by json_array_elements_text and a cast: psycopg's binary
    arrays dumped each element by a Python call (a Decimal, by several)."""
    return to_json(values).decode()


# One statement for the cap rows the history read found, one for those it did not; each takes
# its rows in (citizen, day, group) order, so two batches never wait on each other's rows in
# opposite orders.
_DAILY_POINTS = """
INSERT INTO daily_points (user_id, local_day, cap_group, earned, cap)
SELECT u, d::date, g, e::integer, c::integer FROM ROWS FROM (
    json_array_elements_text(%b::json), json_array_elements_text(%b::json),
    json_array_elements_text(%b::json), json_array_elements_text(%b::json),
    json_array_elements_text(%b::json)) AS k (u, d, g, e, c)
"""
_ADD_DAILY_POINTS = _DAILY_POINTS + """
ON CONFLICT (user_id, local_day, cap_group)
DO UPDATE SET earned = daily_points.earned + excluded.earned, cap = excluded.cap
"""


def add_daily_points(added: dict, cap_rows: set[tuple]) -> list[tuple[str, tuple]]:
    """The statements that add each (citizen, day, cap group)'s new points to its row; the row's
    check refuses a sum above the cap, which a path that skipped the account lock would reach.
    The rows the locked history read did not find are inserted without ON CONFLICT (its
    speculative insertion took ~1.4x a plain insert's time, and a feed's days are mostly new):
    a path that skipped the lock and made one meanwhile makes this batch's insert fail on the
    key, refused like the cap's check, never added up past it."""
    statements = []
    for found in (False, True):
        keys = sorted(k for k in added if (k in cap_rows) is found)
        if keys:
            statements.append((_ADD_DAILY_POINTS if found else _DAILY_POINTS, tuple(
                as_json(column) for column in (
                    [k[0] for k in keys], [k[1] for k in keys], [k[2] for k in keys],
                    [added[k][0] for k in keys], [added[k][1] for k in keys]))))
    return statements


# One statement for the whole batch, returning each account's figures as the database has them.
_ADD_TO_ACCOUNTS = """
UPDATE points_account AS a
SET balance = a.balance + d.points, reduction_g = a.reduction_g + d.reduction_g
FROM (SELECT u, p::bigint, r::numeric FROM ROWS FROM (json_array_elements_text(%b::json),
      json_array_elements_text(%b::json), json_array_elements_text(%b::json)) AS k (u, p, r))
     AS d (user_id, points, reduction_g)
WHERE a.user_id = d.user_id
RETURNING a.user_id, a.balance, a.held
"""


def add_to_accounts(accepted: list[TripDecision]) -> tuple[str, tuple]:
    """The statement that adds the accepted trips to each account as increments (a concurrent
    writer's points are kept and the range checks see the true sum), returning each account's
    user_id, balance and held after."""
    points: dict[str, int] = defaultdict(int)
    reductions: dict[str, Decimal] = defaultdict(Decimal)
    for decision in accepted:
        points[decision.claim.user_id] += decision.points
        reductions[decision.claim.user_id] += decision.reduction_g
    user_ids = sorted(points)
    return _ADD_TO_ACCOUNTS, (as_json(user_ids), as_json([points[u] for u in user_ids]),
                              as_json([reductions[u] for u in user_ids]))


def check_figures(after: list[tuple], figures: dict[str, list[int]]) -> None:
    """The accounts as the database has them after the batch (its update's RETURNING) against the
    entries' last running figures: the lock kept any other writer out since they were read, and if
    some path did write meanwhile, the batch is refused rather than leave a ledger that does not
    add up to its account."""
    for user_id, balance, held in after:
        if figures[user_id] != [balance, held]:
            raise Conflict("the citizen's points changed while the feed was recorded; send it "
                           "again", field="trips", code="points-changed-meanwhile")
