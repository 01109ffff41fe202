"""Race the platform's money paths and its duplicates with parallel requests, through the gateway.

  uv run python tools/races.py [GATEWAY_URL] [--parallel N]      (N >= 20, default 20)

Against a running platform (`make up`), through its public API only: it first prepares the state
each attack needs (new users with a fresh suffix, a forestry project taken to issued credits,
holdings, a listing, an event, citizens with points), then fires N requests at once for each
path (threads released together by a barrier, one HTTP client each, a fresh Idempotency-Key per
request) and prints a table: path | requests | succeeded | allowed | other statuses | verdict.
A row is OK when no more succeeded than the path allows, nothing answered 5xx or failed in
transport, and the state read back afterwards agrees with what succeeded. Last it asks the
registry to verify its audit journal and its balances (GET /api/v1/registry/audit/verify).

Exit code: 0 when every row and the registry checks are OK, 1 when one is not, 2 when the state
could not be prepared (the message says what to do next).

Under `make up` the gateway limits registrations and logins to 20 a minute per address: the
preparation makes about N + 12 users, so expect a few minutes of "waiting for the rate limit"
lines there (the test platform lifts the limits). Every run adds new users, so it can run again.
Side effect on a shared platform: the offsets that the 400 t listing cannot cover are bought from
whatever other listings are open (the market buys cheapest first); the table says how many.
"""
from __future__ import annotations

import argparse
import json
import os
import re
import sys
import time
import uuid
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta


sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))  # tools/ is not a package
from race_fire import Row, Shot, _detail, _started, fire, log, post  # noqa: E402
from race_scene import (DEFAULT_METRO_CAP, MIN_PARALLEL, POINTS_PER_CREDIT, Api,  # noqa: E402
                        Scene, SetupError, _local, prepare, wait_for)

# --------------------------------------------------------------------------------------------
# The attacks


def _created(shot: Shot) -> bool:
    return shot.status == 201


def race_transfers(scene: Scene, api: Api) -> Row:
    a, b = scene.users["holder-a"], scene.users["holder-b"]
    row = Row("transfer 60 of a 100-credit holding", scene.n, allowed=1)
    shots = fire(scene.url, [post("/api/v1/transfers", a.token,
                                  {"to_username": b.name, "quantity": 60})] * scene.n)
    row.tally(shots, _created)
    kept, got = api.holdings(a)["total"], api.holdings(b)["total"]
    row.notes.append(f"sender holds {kept}, recipient {got}")
    row.check(kept == 100 - 60 * row.succeeded and got == 60 * row.succeeded,
              f"{row.succeeded} transfers answered 201 but the sender holds {kept} and the "
              f"recipient {got}")
    return row


def race_retirements(scene: Scene, api: Api) -> Row:
    r = scene.users["holder-r"]
    row = Row("retire a whole holding (100)", scene.n, allowed=1)
    shots = fire(scene.url, [post("/api/v1/retirements", r.token, {
        "quantity": 100, "beneficiary": f"race {scene.run}", "purpose": "race test"})] * scene.n)
    won = row.tally(shots, _created)
    certificates = {s.body.get("certificate_id") for s in won if isinstance(s.body, dict)}
    left = api.holdings(r)["total"]
    row.notes.append(f"{len(certificates)} certificate(s); the holding is now {left}")
    row.check(left == 100 - 100 * row.succeeded,
              f"{row.succeeded} retirements answered 201 but {left} credits are still held")
    return row


def race_listings(scene: Scene, api: Api) -> Row:
    seller = scene.users["holder-l"]
    row = Row("list a whole holding (100)", scene.n, allowed=1)
    # A price no buyer reaches before every cheaper listing: these stay out of other rows' way
    # (and they are withdrawn afterwards).
    shots = fire(scene.url, [post("/api/v1/listings", seller.token,
                                  {"quantity": 100, "price_per_tonne": "9999.00"})] * scene.n)
    won = row.tally(shots, _created)
    listed = sum(s.body.get("quantity", 0) for s in won if isinstance(s.body, dict))
    held = api.holdings(seller)
    row.notes.append(f"{listed} t listed; holding {held['total']}, available {held['available']}")
    row.check(held["total"] == 100 and held["available"] == 100 - listed >= 0,
              f"{listed} t listed from a 100 t holding (holding {held['total']}, available "
              f"{held['available']})")
    # Withdraw what was listed, so no later buyer on this platform meets these listings.
    cancelled = [api.gw.http.post(f"/api/v1/listings/{s.body['id']}/cancel", headers={
        "Authorization": f"Bearer {seller.token}", "Idempotency-Key": uuid.uuid4().hex}
    ).status_code for s in won if isinstance(s.body, dict) and "id" in s.body]
    if cancelled:
        row.notes.append(f"listing(s) withdrawn afterwards: answers {cancelled}")
    return row


def race_offsets(scene: Scene, api: Api) -> Row:
    organizer = scene.users["organizer"]
    row = Row("offset 100 t each from one 400 t listing", scene.n, allowed=4)
    open_before = api("reading the open listings", "GET", "/api/v1/listings")
    rivals = [x for x in open_before if x["id"] != scene.listing_id
              and float(x["price_per_tonne"]) <= 0.01 and x["remaining"] > 0]
    others_supply = sum(x["remaining"] for x in open_before if x["id"] != scene.listing_id)
    shots = fire(scene.url, [post(f"/api/v1/events/{scene.event_id}/offsets", organizer.token,
                                  {"quantity": 100})] * scene.n)

    # Which listings an offset bought from: its answer's payments. Without them (an answer of
    # another shape), every 201 counts against the 400 t listing.
    unattributed = any(s.status == 201 and not (isinstance(s.body, dict) and "payments" in s.body)
                       for s in shots)

    def from_ours(shot: Shot) -> int:
        if shot.status != 201:
            return 0
        if unattributed:
            return 100
        return sum(p["quantity"] for p in shot.body["payments"]
                   if p["listing_id"] == scene.listing_id)

    row.tally(shots, lambda s: from_ours(s) > 0,
              label=lambda s: "201 from other listings" if s.status == 201 else s.status)
    sold = sum(from_ours(s) for s in shots)
    elsewhere = row.others.get("201 from other listings", 0)
    row.notes.append(f"{sold} t bought from the 400 t listing; {elsewhere} offset(s) bought from "
                     f"other open listings ({others_supply} t were open besides it)")
    if unattributed:
        row.notes.append("some answers carry no payments: every 201 is counted against the listing")
    if rivals:
        row.notes.append(f"{len(rivals)} other listing(s) at 0.01 were open: they sell first "
                         "(by id), so more offsets than 4 may draw on ours legitimately")
    row.check(sold <= 400, f"{sold} t sold from a 400 t listing")
    row.check(sum(1 for s in shots if s.status == 201) <= (400 + others_supply) // 100,
              "more offsets succeeded than all open listings could supply")
    return row


def race_redemptions(scene: Scene, api: Api) -> Row:
    citizen = scene.users["c-redeem"]
    covered = scene.redeemer_points // POINTS_PER_CREDIT
    row = Row(f"redeem {POINTS_PER_CREDIT:,} points", scene.n, allowed=covered)
    if covered < 1:
        row.notes.append(f"the citizen could reach only {scene.redeemer_points} points through "
                         f"trips within the daily caps "
                         f"({scene.redeemer_note or 'no trip refused'}): below one redemption, "
                         f"so every one must be refused")
    else:
        row.notes.append(f"balance {scene.redeemer_points} points, earned by trips within the caps")
    shots = fire(scene.url, [post("/api/v1/me/redemptions", citizen.token,
                                  {"points": POINTS_PER_CREDIT})] * scene.n)
    won = row.tally(shots, lambda s: s.status == 202)
    ids = [s.body["id"] for s in won if isinstance(s.body, dict) and "id" in s.body]

    def settled() -> list[str] | None:
        states = [api(f"reading redemption {i}", "GET", f"/api/v1/me/redemptions/{i}",
                      citizen.token)["state"] for i in ids]
        return states if all(s != "pending" for s in states) else None

    if ids:
        try:
            states = wait_for("the redemption to settle (through Kafka)", settled, 60,
                              "is the credits consumer running?")
            row.notes.append(f"settled: {dict(Counter(states))}")
        except SetupError as exc:
            row.notes.append(str(exc))
    account = api("reading the citizen's points", "GET", "/api/v1/me/carbon-account",
                  citizen.token)
    row.notes.append(f"after: balance {account['balance']}, on hold {account['on_hold']}")
    row.check(0 <= account["on_hold"] <= account["balance"],
              f"balance {account['balance']} with {account['on_hold']} on hold")
    return row


def _trip(mode: str, km: str, start: datetime, minutes: float, external_id: str) -> dict:
    return {"mode": mode, "distance_km": km, "started_at": start.isoformat(),
            "ended_at": (start + timedelta(minutes=minutes)).isoformat(),
            "external_id": external_id}


def race_trip_cap(scene: Scene, api: Api) -> Row:
    """N metro trips of one citizen on one day (yesterday, city time), none overlapping, each
    worth about a quarter of the metro cap: the points recorded must stay within the cap."""
    citizen = scene.users["c-cap"]
    n = scene.n
    spacing = min(20.0, 23 * 60 / n)  # minutes between starts, inside one calendar day
    minutes = spacing * 0.75
    km = min(25.0, 100 * minutes / 60)  # at most 100 km/h: plausible for a metro
    first = _local(scene.trip_day, 0.5)
    sends = [post("/api/v1/trips", citizen.token,
                  _trip("metro", f"{km:.2f}", first + timedelta(minutes=i * spacing), minutes,
                        f"race-{scene.run}-cap-{i}")) for i in range(n)]
    shots = fire(scene.url, sends)
    named = [re.search(r"metro cap of (\d+) points", str(s.body.get("capped_by") or ""))
             for s in shots if isinstance(s.body, dict)]
    caps = {int(m.group(1)) for m in named if m}
    cap = min(caps) if caps else DEFAULT_METRO_CAP
    row = Row("same-day metro trips: points vs the daily cap", n, allowed=cap)
    for shot in shots:  # every answer is an outcome here; the figure is the points
        if shot.status is None or shot.status >= 500:
            row.server_errors += 1
        row.others[shot.error if shot.status is None else
                   (f"{shot.status} {shot.body.get('status')}" if shot.status == 201
                    and isinstance(shot.body, dict) else shot.status)] += 1
    answered = sum(s.body.get("points", 0) for s in shots if s.status == 201
                   and isinstance(s.body, dict) and s.body.get("status") == "accepted")
    account = api("reading the citizen's points", "GET", "/api/v1/me/carbon-account", citizen.token)
    row.succeeded = account["balance"]
    row.notes.append(f"points recorded {account['balance']} (answers said {answered}); cap "
                     f"{cap}{'' if caps else ' (default: no answer named the cap)'}; "
                     f"{km:.2f} km trips, {spacing:.0f} min apart")
    if any(s.status is not None and s.status >= 500 for s in shots):
        first = next(s for s in shots if s.status is not None and s.status >= 500)
        row.notes.append(f"a {first.status} answered: {_detail(first.body)}")
    row.check(account["balance"] == answered,
              f"the answers awarded {answered} points but the ledger holds {account['balance']}")
    return row


def race_same_trip(scene: Scene, api: Api) -> Row:
    citizen = scene.users["c-dup"]
    row = Row("the same trip external_id N times", scene.n, allowed=1)
    body = _trip("metro", "10", _local(scene.trip_day, 8), 15, f"race-{scene.run}-dup")
    shots = fire(scene.url, [post("/api/v1/trips", citizen.token, body)] * scene.n)
    won = row.tally(shots, lambda s: _created(s) and isinstance(s.body, dict)
                    and s.body.get("status") == "accepted",
                    label=lambda s: (f"201 {s.body.get('status')}" if s.status == 201
                                     and isinstance(s.body, dict) else s.status))
    earned = sum(s.body.get("points", 0) for s in won)
    account = api("reading the citizen's points", "GET", "/api/v1/me/carbon-account", citizen.token)
    row.notes.append(f"{len(won)} new trip(s); balance {account['balance']} points")
    row.check(account["balance"] == earned,
              f"one trip's points expected, the ledger holds {account['balance']}")
    return row


def race_uscc(scene: Scene, api: Api) -> Row:
    row = Row("register one USCC N times", scene.n, allowed=1)
    shots = fire(scene.url, [post("/api/v1/enterprises", scene.users["firm"].token,
                                  scene.enterprise_body)] * scene.n)
    row.tally(shots, _created)
    row.notes.append(f"USCC {scene.uscc}")
    return row


def race_filing(scene: Scene, api: Api) -> Row:
    row = Row("file one report period N times", scene.n, allowed=1)
    body = {"period": scene.period,
            "activities": [{"factor_code": "grid.sichuan.2023", "quantity": "1200", "unit": "MWh"}]}
    shots = fire(scene.url, [post(f"/api/v1/enterprises/{scene.filing_enterprise}/reports",
                                  scene.users["firm"].token, body)] * scene.n)
    row.tally(shots, _created)
    reports = api("reading the filed reports", "GET",
                  f"/api/v1/enterprises/{scene.filing_enterprise}/reports",
                  scene.users["firm"].token)
    current = [r for r in reports if r["period"] == scene.period and r["is_current"]]
    row.notes.append(f"period {scene.period}: {len(reports)} report(s) filed, "
                     f"{len(current)} current")
    row.check(len(current) <= 1, f"{len(current)} current reports for {scene.period}")
    return row


def race_verifications(scene: Scene, api: Api) -> Row:
    row = Row("verify one monitoring report by N verifiers", scene.n, allowed=1)
    path = f"/api/v1/monitoring-reports/{scene.report_to_race}/verifications"
    shots = fire(scene.url, [post(path, v.token, {"decision": "verified", "verified_tco2e": "100",
                                                  "comments": f"race {i}"})
                             for i, v in enumerate(scene.verifiers)])
    row.tally(shots, _created)
    if row.succeeded:
        # One verification, one issuance: 100 t verified -> 100 issued (owner + buffer) in the
        # registry for this vintage; several verifications would issue several times.
        def issued() -> dict | None:
            report = api("reading the raced report", "GET", f"/api/v1/monitoring-reports/"
                         f"{scene.report_to_race}", scene.users["dev"].token)
            return report if report["state"] == "issued" else None

        try:
            wait_for("the raced report's issuance (through Kafka)", issued, 60,
                     "is the credits consumer running?")
            time.sleep(2)  # room for any further issuance a second verification would cause
            totals = [t for t in api("reading registry totals", "GET", "/api/v1/registry/projects")
                      if t["project_id"] == scene.project_id and t["vintage"] == scene.race_vintage]
            total = totals[0]["issued"] if totals else 0
            row.notes.append(f"vintage {scene.race_vintage}: {total} t issued for 100 t verified")
            row.check(total == 100, f"{total} t issued for one report verified at 100 t")
        except SetupError as exc:
            row.notes.append(str(exc))
    return row


ATTACKS: tuple[Callable[[Scene, Api], Row], ...] = (
    race_transfers, race_retirements, race_listings, race_offsets, race_redemptions,
    race_trip_cap, race_same_trip, race_uscc, race_filing, race_verifications)
# Offsets run before listings, so the listing race's (expensive) listings are no supply for them.
RUN_ORDER = (race_transfers, race_retirements, race_offsets, race_listings, race_redemptions,
             race_trip_cap, race_same_trip, race_uscc, race_filing, race_verifications)


# --------------------------------------------------------------------------------------------
# The registry's own checks


@dataclass
class RegistryCheck:
    audit: dict
    problems: list[str]
    notes: list[str]

    @property
    def ok(self) -> bool:
        return not self.problems


def _serial_bounds(serials: str) -> tuple[int, int]:
    *_, first, last = serials.split("-")
    return int(first), int(last)


def check_registry(scene: Scene, api: Api) -> RegistryCheck:
    problems, notes = [], []
    audit = api("verifying the audit journal", "GET", "/api/v1/registry/audit/verify")
    if audit.get("intact") is False:
        problems.append(f"audit chain broken: {audit.get('first_broken')}")
    if audit.get("ok") is False or audit.get("balanced") is False or audit.get("discrepancies"):
        problems.append(f"audit verification: ok={audit.get('ok')}, balanced="
                        f"{audit.get('balanced')}, discrepancies={audit.get('discrepancies')}")
    # This run's project: issued = held + retired + buffer + cancelled (compensating a loss,
    # issue 13) per vintage; no serial in two live blocks.
    for t in api("reading registry totals", "GET", "/api/v1/registry/projects"):
        if t["project_id"] != scene.project_id:
            continue
        balance = t["held"] + t["retired"] + t["buffer"] + t.get("cancelled", 0)
        notes.append(f"project vintage {t['vintage']}: issued {t['issued']} = held {t['held']} + "
                     f"retired {t['retired']} + buffer {t['buffer']} ({balance})")
        if balance != t["issued"]:
            problems.append(f"vintage {t['vintage']}: issued {t['issued']} but held + retired + "
                            f"buffer = {balance}")
    blocks, after = [], None  # every page of the project's blocks
    while True:
        page = api("reading the project's blocks", "GET", "/api/v1/registry/blocks",
                   params={"project_id": scene.project_id, "limit": 200,
                           **({"after": after} if after else {})})
        blocks += page["items"]
        if not (after := page["next"]):
            break
    live: dict[int, list[tuple[int, int, str]]] = {}
    for b in blocks:
        if b["status"] in ("active", "retired"):
            first, last = _serial_bounds(b["serials"])
            live.setdefault(b["vintage"], []).append((first, last, b["serials"]))
    overlaps = 0
    for ranges in live.values():
        ranges.sort()
        for (_, last, one), (first, _, two) in zip(ranges, ranges[1:]):
            if first <= last:
                overlaps += 1
                if overlaps <= 3:
                    problems.append(f"live blocks overlap: {one} and {two}")
    notes.append(f"{sum(len(r) for r in live.values())} live blocks of the project, "
                 f"{overlaps} overlapping")
    return RegistryCheck(audit, problems, notes)


# --------------------------------------------------------------------------------------------
# Running and printing


@dataclass
class Outcome:
    rows: list[Row]
    registry: RegistryCheck
    scene: Scene

    @property
    def ok(self) -> bool:
        return all(r.ok for r in self.rows) and self.registry.ok


def run_races(url: str, parallel: int = MIN_PARALLEL) -> Outcome:
    """Prepare, attack every path with `parallel` requests at once, check the registry."""
    if parallel < MIN_PARALLEL:
        raise ValueError(f"--parallel must be at least {MIN_PARALLEL}")
    _started[0] = time.monotonic()
    scene = prepare(url, parallel)
    api = Api(url)
    done: dict[Callable, Row] = {}
    for attack in RUN_ORDER:
        name = attack.__name__.removeprefix("race_").replace("_", " ")
        log(f"firing {parallel} parallel requests: {name}")
        started = time.monotonic()
        row = attack(scene, api)
        log(f"  {row.succeeded} succeeded of {row.requests} (allowed {row.allowed}) "
            f"in {time.monotonic() - started:.1f} s: {row.verdict}")
        done[attack] = row
    log("asking the registry to verify its journal and balances")
    registry = check_registry(scene, api)
    return Outcome([done[a] for a in ATTACKS], registry, scene)


def table(rows: list[Row]) -> str:
    head = ("path", "requests", "succeeded", "allowed", "other statuses", "verdict")
    body = [(r.path, str(r.requests), str(r.succeeded), str(r.allowed),
             json.dumps({str(k): v for k, v in r.others.items()}, ensure_ascii=False) if r.others
             else "-", r.verdict) for r in rows]
    widths = [max(len(line[i]) for line in (head, *body)) for i in range(len(head))]
    fmt = " | ".join(f"{{:<{w}}}" for w in widths)
    lines = [fmt.format(*head), "-+-".join("-" * w for w in widths)]
    lines += [fmt.format(*line) for line in body]
    return "\n".join(lines)


def report(outcome: Outcome) -> str:
    lines = [table(outcome.rows), ""]
    for row in outcome.rows:
        for note in row.notes:
            lines.append(f"  {row.path}: {note}")
        for problem in row.problems:
            lines.append(f"  {row.path}: PROBLEM: {problem}")
    lines += ["", "GET /api/v1/registry/audit/verify:",
              "  " + json.dumps(outcome.registry.audit, ensure_ascii=False, default=str)]
    lines += [f"  {note}" for note in outcome.registry.notes]
    lines += [f"  PROBLEM: {p}" for p in outcome.registry.problems]
    failed = [r.path for r in outcome.rows if not r.ok]
    lines += ["", "every row OK, registry consistent" if outcome.ok else
              "NOT OK: " + "; ".join(failed + (["registry checks"] if not outcome.registry.ok
                                                else []))]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="race the platform's money paths through its "
                                                 "gateway and print what got through")
    parser.add_argument("gateway", nargs="?",
                        default=os.environ.get("TANHUI_GATEWAY_URL", "http://127.0.0.1:8000"),
                        help="the gateway of a running platform (`make up`: http://127.0.0.1:8000)")
    parser.add_argument("--parallel", type=int, default=MIN_PARALLEL,
                        help=f"requests fired at once per path (at least {MIN_PARALLEL})")
    parser.add_argument("--json", action="store_true", help="also print the rows as JSON")
    args = parser.parse_args(argv)
    if args.parallel < MIN_PARALLEL:
        parser.error(f"--parallel must be at least {MIN_PARALLEL}")
    started = time.monotonic()
    try:
        outcome = run_races(args.gateway, args.parallel)
    except SetupError as exc:
        log(f"could not prepare the races: {exc}")
        return 2
    print(report(outcome))
    if args.json:
        print(json.dumps({"rows": [r.as_dict() for r in outcome.rows],
                          "audit": outcome.registry.audit,
                          "registry_problems": outcome.registry.problems}, ensure_ascii=False))
    log(f"done in {time.monotonic() - started:.0f} s")
    return 0 if outcome.ok else 1


if __name__ == "__main__":
    sys.exit(main())
