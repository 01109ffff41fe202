"""`tanhui_ops reconcile`: the three services' databases compared with each other (docs/architecture.md §6).

- redemptions: accounts' completed and rejected redemptions vs credits' answers (its redemption
  rows and the retirements it made for them: same ids, same kg, same certificate; a pooled
  redemption's retirement is its shares of the serials the inclusion pool retired, and one that
  credits holds pending until the pool fills a whole tonne is no difference);
- points: each points account's balance and held vs the sum of its entries and its last entry,
  and each redemption's hold, settle or release entries;
- issuances: verification's verified and issued monitoring reports vs credits' issuances (same
  issuance id and report, same verified tonnes, same quantities once both know them).

Each database is read in one read-only REPEATABLE READ snapshot, credits' first: whatever credits
knows, the service that asked it had committed before, so "credits knows it, the other service
does not" is always a difference. What the asking service did after credits' snapshot (an answer
on its way) is "in flight" while younger than the grace period, and a difference after that.
"""
from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

import sqlalchemy as sa
from tanhui_shared.db import make_engine


@dataclass(frozen=True)
class Difference:
    area: str  # redemptions | points | issuances
    where: str  # which row, in which service
    what: str

    def __str__(self) -> str:
        return f"{self.area}: {self.where}: {self.what}"


@dataclass
class Reconciliation:
    grace: timedelta
    now: datetime = field(default_factory=lambda: datetime.now(UTC))
    differences: list[Difference] = field(default_factory=list)
    in_flight: list[Difference] = field(default_factory=list)
    compared: dict[str, int] = field(default_factory=dict)

    def differ(self, area: str, where: str, what: str, since: datetime | None = None) -> None:
        """A difference; or in flight when `since` (the newest move of the row) is recent."""
        young = since is not None and self.now - since < self.grace
        (self.in_flight if young else self.differences).append(Difference(area, where, what))


def _at(moment: datetime | None) -> str:
    return f"{moment:%Y-%m-%d %H:%M:%S}" if moment else "?"


def snapshot(url: str, queries: dict[str, str]) -> dict[str, list[dict[str, Any]]]:
    engine = make_engine(url, pool_size=1)
    try:
        with engine.connect().execution_options(isolation_level="REPEATABLE READ",
                                                postgresql_readonly=True) as conn:
            return {name: [dict(r) for r in conn.execute(sa.text(sql)).mappings()]
                    for name, sql in queries.items()}
    finally:
        engine.dispose()


CREDITS = {
    "redemptions": "SELECT id, user_id, quantity * 1000 AS kg, status, certificate_id, settled_at"
                   " FROM redemption UNION ALL SELECT id, user_id, kg, status, certificate_id,"
                   " coalesce(completed_at, requested_at) FROM pooled_redemption",
    "retirements": "SELECT id, redemption_id, quantity * 1000 AS kg, certificate_id, retired_at"
                   " FROM retirement WHERE redemption_id IS NOT NULL"
                   " UNION ALL SELECT 'shares of ' || r.id, r.id,"
                   " sum(s.serial_to_kg - s.serial_from_kg), r.certificate_id, r.completed_at"
                   " FROM pool_share s JOIN pooled_redemption r ON r.id = s.redemption_id"
                   " WHERE r.status = 'completed' GROUP BY r.id, r.certificate_id, r.completed_at",
    "issuances": "SELECT id, monitoring_report_id, verified_tco2e, owner_quantity, buffer_quantity,"
                 " issued_at FROM issuance",
}
ACCOUNTS = {
    "redemptions": "SELECT id, user_id, points, kg, state, certificate_id, created_at,"
                   " settled_at FROM redemption",
    "accounts": "SELECT user_id, balance, held FROM points_account",
    "sums": "SELECT user_id, kind, sum(points) AS points, count(*) AS n FROM points_entry"
            " GROUP BY user_id, kind",
    "last": "SELECT DISTINCT ON (user_id) user_id, id, balance_after, held_after FROM points_entry"
            " ORDER BY user_id, id DESC",
    "redemption_entries": "SELECT redemption_id, kind, points FROM points_entry"
                          " WHERE redemption_id IS NOT NULL",
}
VERIFICATION = {
    "reports": "SELECT r.id, r.state, r.issuance_id, r.verified_tco2e, r.issued_quantity,"
               " r.buffer_quantity, r.issued_at, v.created_at AS verified_at"
               " FROM monitoring_report r LEFT JOIN verification v ON v.monitoring_report_id = r.id"
               " WHERE r.issuance_id IS NOT NULL",
}


def reconcile(accounts_url: str, verification_url: str, credits_url: str,
              grace: timedelta) -> Reconciliation:
    credits = snapshot(credits_url, CREDITS)  # first: see the module's docstring
    accounts = snapshot(accounts_url, ACCOUNTS)
    verification = snapshot(verification_url, VERIFICATION)
    result = Reconciliation(grace)
    check_redemptions(result, accounts, credits)
    check_points(result, accounts)
    check_issuances(result, verification, credits)
    return result


def check_redemptions(result: Reconciliation, accounts: dict, credits: dict) -> None:
    asked = {r["id"]: r for r in accounts["redemptions"]}
    answered = {r["id"]: r for r in credits["redemptions"]}
    retired: dict[str, list[dict]] = defaultdict(list)
    for r in credits["retirements"]:
        retired[r["redemption_id"]].append(r)
    ids = set(asked) | set(answered) | set(retired)
    result.compared["redemptions"] = len(ids)
    for rid in sorted(ids):
        a, c, r = asked.get(rid), answered.get(rid), retired.get(rid, [])
        where = f"redemption {rid}"
        c_says = f"credits {c['status']} it ({c['kg']} kg)" if c else "credits has no answer"
        if a is None:
            what = f"{c_says}, {len(r)} retirement(s) in credits, unknown to accounts"
            result.differ("redemptions", where, what)
            continue
        where += f" (user {a['user_id']})"
        if len(r) > 1:
            result.differ("redemptions", where, f"{len(r)} retirements in credits for one redemption")
        if c is not None and c["kg"] != a["kg"]:
            result.differ("redemptions", where, f"{a['kg']} kg in accounts, "
                                                f"{c['kg']} kg in credits")
        if a["state"] == "pending":
            if c is not None and c["status"] == "pending":
                continue  # pooled: waiting in credits for the pool to fill a whole tonne
            if c is not None:
                result.differ("redemptions", where, f"{c_says}, accounts has not applied the "
                              "answer (still pending)", since=c["settled_at"])
            else:
                result.differ("redemptions", where, "pending in accounts since "
                              f"{_at(a['created_at'])}, no answer from credits",
                              since=a["created_at"])
        elif a["state"] == "completed":
            if not r:
                result.differ("redemptions", where, f"completed in accounts ({a['kg']} kg), "
                              f"no retirement in credits; {c_says}", since=a["settled_at"])
                continue
            if c is None or c["status"] != "completed":
                result.differ("redemptions", where, f"completed in accounts, {c_says}")
            if r[0]["kg"] != a["kg"]:
                result.differ("redemptions", where, f"completed in accounts for {a['kg']} kg, "
                              f"credits retired {r[0]['kg']} kg (retirement {r[0]['id']})")
            if r[0]["certificate_id"] != a["certificate_id"]:
                result.differ("redemptions", where, f"certificate {a['certificate_id']} in "
                              f"accounts, {r[0]['certificate_id']} in credits")
        elif a["state"] == "rejected":
            if r:
                result.differ("redemptions", where, "rejected in accounts (points released), but "
                              f"credits retired {r[0]['kg']} kg (retirement {r[0]['id']})")
            if c is None:
                result.differ("redemptions", where, "rejected in accounts, credits has no answer",
                              since=a["settled_at"])
            elif c["status"] != "rejected":
                result.differ("redemptions", where, f"rejected in accounts, {c_says}")
        else:
            result.differ("redemptions", where, f"unknown state {a['state']!r} in accounts")


SIGN = {"earn": (1, 0), "hold": (0, 1), "release": (0, -1), "settle": (-1, -1),  # (balance, held)
        "expire": (-1, 0)}
EXPECTED_ENTRIES = {"pending": ["hold"], "completed": ["hold", "settle"],
                    "rejected": ["hold", "release"]}


def check_points(result: Reconciliation, accounts: dict) -> None:
    balances = {a["user_id"]: a for a in accounts["accounts"]}
    sums: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    for row in accounts["sums"]:
        where = f"points account of user {row['user_id']}"
        if row["kind"] not in SIGN:
            result.differ("points", where, f"{row['n']} entries of unknown kind {row['kind']!r}")
            continue
        for i, sign in enumerate(SIGN[row["kind"]]):
            sums[row["user_id"]][i] += sign * int(row["points"])
    last = {row["user_id"]: row for row in accounts["last"]}
    result.compared["points accounts"] = len(balances)
    for user_id in sorted(set(balances) | set(sums)):
        where = f"points account of user {user_id}"
        account = balances.get(user_id)
        if account is None:
            result.differ("points", where, "entries for a user with no points account")
            continue
        balance, held = sums.get(user_id, [0, 0])
        if (account["balance"], account["held"]) != (balance, held):
            result.differ("points", where, f"balance {account['balance']} held {account['held']}, "
                          f"but its entries sum to balance {balance} held {held}")
        end = last.get(user_id)
        if end and (end["balance_after"], end["held_after"]) != (account["balance"], account["held"]):
            result.differ("points", where, f"balance {account['balance']} held {account['held']}, "
                          f"but its last entry ({end['id']}) says balance {end['balance_after']} "
                          f"held {end['held_after']}")
    entries: dict[str, list[dict]] = defaultdict(list)
    for e in accounts["redemption_entries"]:
        entries[e["redemption_id"]].append(e)
    for r in accounts["redemptions"]:
        expected = EXPECTED_ENTRIES.get(r["state"])
        found = entries.pop(r["id"], [])
        if expected is None:
            continue  # reported with the redemptions
        kinds = sorted(e["kind"] for e in found)
        if kinds != sorted(expected) or any(e["points"] != r["points"] for e in found):
            got = ", ".join(f"{e['kind']} {e['points']}" for e in found) or "none"
            want = ", ".join(f"{k} {r['points']}" for k in expected)
            result.differ("points", f"redemption {r['id']} (user {r['user_id']})",
                          f"{r['state']}: its points entries are {got}, expected {want}")
    for rid, found in entries.items():
        result.differ("points", f"redemption {rid}", f"{len(found)} points entries name a "
                      "redemption accounts does not have")


def check_issuances(result: Reconciliation, verification: dict, credits: dict) -> None:
    reports = {r["issuance_id"]: r for r in verification["reports"]}
    issued = {i["id"]: i for i in credits["issuances"]}
    result.compared["issuances"] = len(set(reports) | set(issued))
    for iid in sorted(set(reports) | set(issued)):
        v, c = reports.get(iid), issued.get(iid)
        where = f"issuance {iid}"
        if v is None:
            result.differ("issuances", where, f"credits issued {c['owner_quantity']} + "
                          f"{c['buffer_quantity']} buffer for monitoring report "
                          f"{c['monitoring_report_id']}, which verification never verified")
            continue
        where += f" (monitoring report {v['id']})"
        if c is None:
            if v["state"] == "issued":
                result.differ("issuances", where, f"issued in verification ({v['issued_quantity']}"
                              f" + {v['buffer_quantity']} buffer), no issuance in credits",
                              since=v["issued_at"])
            else:
                result.differ("issuances", where, f"{v['state']} in verification, not issued by "
                              "credits", since=v["verified_at"])
            continue
        if c["monitoring_report_id"] != v["id"]:
            result.differ("issuances", where, f"credits issued it for monitoring report "
                          f"{c['monitoring_report_id']}")
        # credits keeps 3 places (issuance.verified_tco2e), verification 4: compare at 3
        if Decimal(c["verified_tco2e"]) != Decimal(v["verified_tco2e"] or 0).quantize(
                Decimal("0.001"), ROUND_HALF_UP):
            result.differ("issuances", where, f"{v['verified_tco2e']} tCO2e verified, credits "
                          f"issued from {c['verified_tco2e']} tCO2e")
        if v["state"] != "issued":
            result.differ("issuances", where, f"issued by credits at {_at(c['issued_at'])}, "
                          f"still {v['state']} in verification", since=c["issued_at"])
        elif (v["issued_quantity"], v["buffer_quantity"]) != (c["owner_quantity"], c["buffer_quantity"]):
            result.differ("issuances", where, f"{v['issued_quantity']} + {v['buffer_quantity']} "
                          f"buffer in verification, {c['owner_quantity']} + "
                          f"{c['buffer_quantity']} buffer in credits")


def report(result: Reconciliation) -> str:
    lines = [str(d) for d in result.differences]
    lines += [f"(in flight) {d}" for d in result.in_flight]
    compared = ", ".join(f"{n} {what}" for what, n in result.compared.items())
    verdict = (f"{len(result.differences)} difference(s)" if result.differences
               else "the services agree")
    flight = (f"; {len(result.in_flight)} in flight (younger than "
              f"{result.grace.total_seconds():.0f}s, not counted)" if result.in_flight else "")
    lines.append(f"reconcile: compared {compared}: {verdict}{flight}")
    return "\n".join(lines)
