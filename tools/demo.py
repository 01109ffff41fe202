"""Seed a running platform with a Nanchong scenario, through the public API only.

  uv run python tools/demo.py [GATEWAY_URL] [--trips 5000] [--citizens 12]

The gateway limits logins and registrations per address (20 a minute by default): a pause with
a note on stderr is the demo waiting for the limit, not a hang. Every run adds new users and enterprises (a fresh suffix on every name), so it can run again on
the same platform. An administrator and a regulator are created with the operators' CLI, so the
accounts database must be reachable (TANHUI_ACCOUNTS_DATABASE_URL, or `make up`'s
tanhui_accounts): the administrator accredits the demo's verifiers and licenses its transit
operator, as in production, and the regulator confirms the enterprises' credit-code claims.
"""
from __future__ import annotations

import argparse
import os
import random
import subprocess
import sys
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx

TOOLS = Path(__file__).resolve().parent
PASSWORD = "tanhui-demo-2025"
COUNTIES = ["顺庆区", "高坪区", "嘉陵区", "阆中市", "南部县", "西充县", "营山县", "蓬安县", "仪陇县"]
ENTERPRISES = [  # name, county, industry, [(factor, quantity, unit)]
    ("南充炼化有限公司", "高坪区", "石油化工", [("fuel.natural_gas", "850", "10^4 Nm3"), ("fuel.diesel", "420", "t"), ("grid.sichuan.2023", "38000", "MWh")]),
    ("顺庆热电有限公司", "顺庆区", "电力热力", [("fuel.raw_coal", "36000", "t"), ("grid.sichuan.2023", "5200", "MWh")]),
    ("阆中丝绸集团", "阆中市", "纺织丝绸", [("fuel.natural_gas", "64", "10^4 Nm3"), ("grid.sichuan.2023", "9100", "MWh")]),
    ("南部县建材股份公司", "南部县", "建材", [("fuel.raw_coal", "12500", "t"), ("fuel.diesel", "95", "t"), ("grid.sichuan.2023", "14800", "MWh")]),
]
# The transit group's licence: its public bikes, buses and the metro (walking and car trips are
# the citizens' own, recorded from their app).
OPERATOR_MODES = ["bike", "bus", "metro"]
# mode -> (km range, km/h used for the trip's duration)
TRIP_SHAPES = {"walk": ((0.5, 3), 5), "bike": ((1, 8), 15), "bus": ((2, 15), 22),
               "metro": ((3, 20), 35), "ev": ((5, 30), 40)}


class Progress:
    """A text progress bar on stderr: [#####.....] 50% what."""

    def __init__(self, total: int, width: int = 30) -> None:
        self.total, self.done, self.width = total, 0, width

    def step(self, what: str, amount: int = 1) -> None:
        self.done = min(self.total, self.done + amount)
        filled = round(self.width * self.done / self.total)
        sys.stderr.write(f"\r[{'#' * filled}{'.' * (self.width - filled)}] "
                         f"{100 * self.done // self.total:3d}% {what[:50]:<50}")
        sys.stderr.flush()
        if self.done == self.total:
            sys.stderr.write("\n")


class Gateway:
    """The platform's public API; 429s wait as Retry-After says, 401s/404s of new accounts retry."""

    def __init__(self, url: str) -> None:
        self.url = url.rstrip("/")
        self.http = httpx.Client(base_url=self.url, timeout=120)

    def call(self, method: str, path: str, token: str | None = None, expect: int = 200,
             retry_404: bool = False, retry_403: bool = False, **kwargs) -> dict | list:
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        if method == "POST":
            headers["Idempotency-Key"] = uuid.uuid4().hex  # one key per logical call, kept on retry
        deadline = time.monotonic() + 180
        while True:
            reply = self.http.request(method, path, headers=headers, **kwargs)
            waiting = (reply.status_code == 429 or (retry_404 and reply.status_code == 404)
                       or (retry_403 and reply.status_code == 403))
            if waiting and time.monotonic() < deadline:
                pause = float(reply.headers.get("Retry-After", "0.5"))
                if reply.status_code == 429:
                    sys.stderr.write(f"\r(the gateway's rate limit: waiting {pause:.0f} s)".ljust(80))
                time.sleep(pause)
                continue
            if reply.status_code != expect:
                raise SystemExit(f"\n{method} {path} answered {reply.status_code}: {reply.text[:500]}")
            return reply.json() if reply.content else {}

    def user(self, role: str, username: str, log_in: bool = True) -> str | None:
        self.call("POST", "/api/v1/auth/register", expect=201,
                  json={"username": username, "password": PASSWORD, "role": role})
        if not log_in:  # e.g. citizens: their trips arrive through the transit operator's feed
            return None
        return self.call("POST", "/api/v1/auth/token",
                         data={"username": username, "password": PASSWORD})["access_token"]

    def opened(self, token: str) -> None:
        """Wait for the holding account credits opens on UserRegistered (through Kafka)."""
        self.call("GET", "/api/v1/holdings", token, retry_404=True)


def uscc(rng: random.Random) -> str:
    from tanhui_accounts.domain.uscc import ALPHABET, check_character

    body = "91511300" + "".join(rng.choice(ALPHABET) for _ in range(9))
    return body + check_character(body)


def trips_for(rng: random.Random, citizens: list[str], count: int, run: str) -> list[dict]:
    """Commutes over the past 6 days (inside the platform's claim window), spread over the
    citizens, at plausible speeds."""
    today = datetime.now(UTC).replace(minute=0, second=0, microsecond=0)
    trips = []
    for n in range(count):
        mode = rng.choices(OPERATOR_MODES, weights=[3, 5, 4])[0]
        (low, high), kmh = TRIP_SHAPES[mode]
        km = round(rng.uniform(low, high), 2)
        start = today - timedelta(hours=rng.randint(2, 6 * 24))
        trips.append({"username": rng.choice(citizens), "mode": mode, "distance_km": str(km),
                      "started_at": start.isoformat(),
                      "ended_at": (start + timedelta(hours=km / kmh + 0.05)).isoformat(),
                      "external_id": f"demo-{run}-{n}"})
    return trips


def operator_csv(path: Path, rng: random.Random, citizens: list[str], run: str) -> int:
    """A day's card records for the operator page's upload (yesterday, one citizen's trips one
    after another), with two lines the platform refuses: an unknown citizen and a walking trip
    the operator is not licensed for. Returns the number of records."""
    day = datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0) - timedelta(days=1)
    lines = [["username", "mode", "distance_km", "started_at", "ended_at", "external_id"]]
    for n in range(60):
        mode = rng.choice(OPERATOR_MODES)
        (low, high), kmh = TRIP_SHAPES[mode]
        km = round(rng.uniform(low, high), 2)
        start = day + timedelta(minutes=45 * (n // len(citizens)) + 5)  # longest trip: 44 min
        end = (start + timedelta(hours=km / kmh + 0.05)).replace(microsecond=0)
        lines.append([citizens[n % len(citizens)], mode, str(km), start.isoformat(), end.isoformat(),
                      f"csv-{run}-{n:04d}"])
    start = day + timedelta(hours=23)
    lines.append([f"nobody-{run}", "bus", "5", start.isoformat(),
                  (start + timedelta(minutes=20)).isoformat(), f"csv-{run}-unknown"])
    lines.append([citizens[0], "walk", "1.2", start.isoformat(),
                  (start + timedelta(minutes=20)).isoformat(), f"csv-{run}-walk"])
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(",".join(row) + "\n" for row in lines), encoding="utf-8")
    return len(lines) - 1


def create_operator_user(username: str, role: str) -> str:
    """An admin or regulator, made with the operators' CLI on the accounts database."""
    from tanhui_shared.settings import local_database_url

    url = os.environ.get("TANHUI_ACCOUNTS_DATABASE_URL") or local_database_url("accounts")
    made = subprocess.run([sys.executable, str(TOOLS / "tanhui_ops.py"), "create-user", username,
                           "--role", role, "--password-stdin", "--database-url", url],
                          input=PASSWORD + "\n", text=True, capture_output=True)
    if made.returncode != 0:
        raise SystemExit(f"could not create the demo's {role} with the operators' CLI: "
                         f"{made.stderr.strip()}\nSet TANHUI_ACCOUNTS_DATABASE_URL to the accounts "
                         "database `make up` uses, then run the demo again.")
    return username


def accredit(gw: Gateway, admin: str, role: str, username: str, shown: dict | None = None) -> str:
    """A verifier (logs in with the initial password the grant shows once) or a licensed bus and
    metro operator (a machine client: its token comes from client credentials)."""
    today = datetime.now(UTC).date()
    grant = gw.call("POST", "/api/v1/accreditations", admin, expect=201, json={
        "role": role, "username": username, "number": f"DEMO-{username}",
        "organisation": {"verifier": "四川省林业碳汇审定核查中心（演示）",
                         "transit_operator": "南充公交集团（演示）"}[role],
        "valid_from": str(today - timedelta(days=30)), "valid_to": str(today + timedelta(days=3 * 365)),
        "modes": OPERATOR_MODES if role == "transit_operator" else []})
    if role == "verifier":  # its first act: the demo's password instead of the one shown once
        first = gw.call("POST", "/api/v1/auth/token",
                        data={"username": username, "password": grant["initial_password"]})["access_token"]
        gw.call("POST", "/api/v1/me/password", first, expect=204, json={
            "current_password": grant["initial_password"], "new_password": PASSWORD})
        form = {"username": username, "password": PASSWORD}
    else:
        form = {"grant_type": "client_credentials", "client_id": grant["client_id"],
                "client_secret": grant["client_secret"]}
        if shown is not None:  # printed at the end: the console's operator sign-in needs them
            shown.update(client_id=grant["client_id"], client_secret=grant["client_secret"])
    return gw.call("POST", "/api/v1/auth/token", data=form)["access_token"]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="seed a running tanhui platform with a demo")
    parser.add_argument("gateway", nargs="?",
                        default=os.environ.get("TANHUI_GATEWAY_URL", "http://127.0.0.1:8000"))
    parser.add_argument("--trips", type=int, default=5000)
    parser.add_argument("--citizens", type=int, default=12)
    args = parser.parse_args(argv)
    run = uuid.uuid4().hex[:6]
    rng = random.Random(run)
    gw = Gateway(args.gateway)
    try:
        gw.call("GET", "/readyz?deep=true")
    except (httpx.HTTPError, SystemExit) as exc:
        print(f"the platform at {gw.url} is not ready ({exc}); start it with `make up`", file=sys.stderr)
        return 2
    batches = max(1, -(-args.trips // 2000))
    bar = Progress(5 + args.citizens + 2 * len(ENTERPRISES) + 7 + batches + 9)
    admin = create_operator_user(f"ops-admin-{run}", "admin")
    regulator = create_operator_user(f"regulator-{run}", "regulator")
    admin_token = gw.call("POST", "/api/v1/auth/token", data={"username": admin, "password": PASSWORD})["access_token"]
    regulator_token = gw.call("POST", "/api/v1/auth/token",
                              data={"username": regulator, "password": PASSWORD})["access_token"]
    bar.step("administrator and regulator (operators' CLI)")
    names = {role: f"{role.replace('_', '-')[:9]}-{run}" for role in
             ("project_developer", "verifier", "organizer", "transit_operator")}
    tokens = {}
    operator_client: dict = {}
    for role, username in names.items():
        tokens[role] = (accredit(gw, admin_token, role, username, operator_client)
                        if role in ("verifier", "transit_operator")
                        else gw.user(role, username))
        bar.step(f"user {username}")
    names["auditor"] = f"auditor-{run}"  # verifies the monitoring the first verifier's approval led to
    tokens["auditor"] = accredit(gw, admin_token, "verifier", names["auditor"])
    bar.step(f"user {names['auditor']}")
    citizens = [f"citizen-{run}-{n:03d}" for n in range(args.citizens)]
    for username in citizens:
        gw.user("citizen", username, log_in=False)
        bar.step(f"citizen {username}")
    # two citizens whose trips only the operator's CSV (uploaded in the console) will bring
    csv_citizens = [f"citizen-{run}-csv{n}" for n in range(2)]
    for username in csv_citizens:
        gw.user("citizen", username, log_in=False)
    sample = TOOLS.parent / ".var" / "demo" / f"operator-trips-{run}.csv"
    sample_rows = operator_csv(sample, rng, csv_citizens, run)
    bar.step(f"operator's sample CSV ({sample_rows} records)")
    for token in tokens.values():
        gw.opened(token)

    reports = []
    firm_users = []
    for name, county, industry, lines in ENTERPRISES:
        username = f"firm-{run}-{len(firm_users)}"
        token = gw.user("enterprise", username)
        gw.opened(token)
        firm_users.append(username)
        firm = gw.call("POST", "/api/v1/enterprises", token, expect=201, json={
            "name": f"{name}·{run}", "uscc": uscc(rng), "county": county, "industry": industry})
        gw.call("POST", f"/api/v1/enterprise-claims/{firm['id']}/decision", regulator_token,
                json={"decision": "confirm", "reason": "营业执照核验一致（演示）"})
        bar.step(f"enterprise {name} (credit code confirmed)")
        year = str(datetime.now().year - 1)
        reports.append((token, firm, gw.call("POST", f"/api/v1/enterprises/{firm['id']}/reports", token,
                                             expect=201, json={"period": year, "activities": [
                                                 {"factor_code": c, "quantity": q, "unit": u} for c, q, u in lines]})))
        bar.step(f"report {year} of {name}")
        # and the current year's latest finished quarter (the first quarter while it runs), so
        # the regulator's default year (the latest with reports) is also the year of the trips
        quarter = f"{datetime.now().year}-Q{max(1, (datetime.now().month - 1) // 3)}"
        gw.call("POST", f"/api/v1/enterprises/{firm['id']}/reports", token, expect=201, json={
            "period": quarter, "activities": [
                {"factor_code": c, "quantity": str(round(float(q) / 4, 3)), "unit": u} for c, q, u in lines]})

    dev, verifier, auditor = tokens["project_developer"], tokens["verifier"], tokens["auditor"]
    project = gw.call("POST", "/api/v1/projects", dev, expect=201, json={
        "name": f"嘉陵江流域生态造林碳汇项目·{run}", "kind": "afforestation", "county": "嘉陵区",
        "area_ha": "1820.5", "forest_rights_holder": "嘉陵区林业合作社",
        "forest_rights_certificate": f"川(2021)嘉陵区林权第{run}号", "crediting_start": "2021-01-01",
        "crediting_years": 30,
        # CCER-14-001-V01 land eligibility (issue 13)
        "vegetation": "tree", "non_forest_since": "2010-01-01", "smallest_parcel_m2": "5000",
        "land_is_wetland": False, "burning_site_preparation": False,
        "description": "在嘉陵江沿岸宜林荒山营造柏木、桤木混交林。",
        "documents": [{"name": "项目设计文件.pdf", "sha256": uuid.uuid4().hex * 2}]})
    bar.step("forestry project filed")
    gw.call("POST", f"/api/v1/projects/{project['id']}/submit", dev)
    bar.step("sent for review")
    # the verifier's accreditation reaches verification as an event: a 403 until it has
    gw.call("POST", f"/api/v1/projects/{project['id']}/reviews", verifier, expect=201, retry_403=True, json={
        "decision": "approve", "comments": "基线与边界合理", "buffer_pct": "20"})
    bar.step("design approved")
    report = gw.call("POST", f"/api/v1/projects/{project['id']}/monitoring-reports", dev, expect=201, json={
        "period_start": "2021-01-01", "period_end": "2024-12-31", "project_sink_tco2e": "6210.4",
        "baseline_sink_tco2e": "980.2", "leakage_tco2e": "130.2"})
    bar.step("monitoring reported")
    gw.call("POST", f"/api/v1/monitoring-reports/{report['id']}/verifications", auditor, expect=201,
            retry_403=True, json={"decision": "verified", "verified_tco2e": "5000", "comments": "现场核查一致"})
    bar.step("monitoring verified")
    # a second filing the reviewer sent back: the developer has changes to make and resubmit
    second = gw.call("POST", "/api/v1/projects", dev, expect=201, json={
        "name": f"营山县退化林修复碳汇项目·{run}", "kind": "afforestation", "county": "营山县",
        "area_ha": "640", "forest_rights_holder": "营山县国有林场",
        "forest_rights_certificate": f"川(2022)营山县林权第{run}号", "crediting_start": "2022-01-01",
        "crediting_years": 30, "vegetation": "tree", "non_forest_since": "2012-01-01",
        "smallest_parcel_m2": "4000", "land_is_wetland": False, "burning_site_preparation": False})
    gw.call("POST", f"/api/v1/projects/{second['id']}/submit", dev)
    gw.call("POST", f"/api/v1/projects/{second['id']}/reviews", verifier, expect=201, retry_403=True, json={
        "decision": "request_changes", "comments": "请补充各地块的土地权属证明和基线调查样地数据"})
    bar.step("a second project sent back with changes requested")
    deadline = time.monotonic() + 60
    while gw.call("GET", "/api/v1/holdings", dev)["total"] == 0:
        if time.monotonic() > deadline:
            raise SystemExit("\ncredits were not issued within 60 s: is the credits consumer running?")
        time.sleep(0.5)
    bar.step("4,000 credits issued (1,000 to the buffer pool)")
    gw.call("POST", "/api/v1/transfers", dev, expect=201,
            json={"to_username": "city-inclusion-pool", "quantity": 200})
    bar.step("200 credits to the city's inclusion pool")

    trips = trips_for(rng, citizens, args.trips, run)
    accepted = 0
    for start in range(0, len(trips), 2000):
        batch = gw.call("POST", "/api/v1/trips/batch", tokens["transit_operator"],
                        json={"trips": trips[start:start + 2000]})
        accepted += batch["accepted"]
        bar.step(f"{start + len(trips[start:start + 2000])} trips fed")

    # Citizens redeem every whole unit (1,000 points = 10 kg) they earned: the inclusion pool
    # retires a whole serial when the kg left on its earlier ones do not cover a redemption.
    # The first citizen redeems one unit only and keeps the rest to redeem in the console.
    pooled_kg = 0
    for username in citizens:
        token = gw.call("POST", "/api/v1/auth/token",
                        data={"username": username, "password": PASSWORD})["access_token"]
        account = gw.call("GET", "/api/v1/me/carbon-account", token)
        units = account["available"] // account["redemption_unit_points"]
        if username == citizens[0]:
            units = 1 if units >= 2 else 0
        if units:
            asked = gw.call("POST", "/api/v1/me/redemptions", token, expect=202,
                            json={"points": units * account["redemption_unit_points"]})
            pooled_kg += asked["kg"]
    bar.step(f"citizens redeemed {pooled_kg:,} kg through the pooled inclusion account")

    gw.call("POST", "/api/v1/listings", dev, expect=201, json={"quantity": 1500, "price_per_tonne": "62.00"})
    bar.step("1,500 credits listed at ¥62/t")
    # the marathon ran a month ago: its plan, then the actual data filed after it (true-up)
    race_day = (datetime.now() - timedelta(days=30)).date().isoformat()
    plan = {"electricity_kwh": "150000", "grid_region": "sichuan", "heat_gj": "600",
            "fuels": {"diesel_t": "6.5"}, "travel": [{"mode": "bus", "person_km": "600000"},
                                                     {"mode": "rail", "person_km": "2400000"},
                                                     {"mode": "air", "person_km": "900000"}],
            "accommodation_nights": "12000", "meals": "45000", "printed_materials_kg": "1500",
            "waste_kg": "18000"}
    event = gw.call("POST", "/api/v1/events", tokens["organizer"], expect=201, json={
        "name": f"南充嘉陵江国际马拉松·{run}", "start_date": race_day, "end_date": race_day,
        "venue": "南充市体育中心", "attendees": 30000, **plan})
    bar.step("marathon registered")
    gw.call("POST", f"/api/v1/events/{event['id']}/actuals", tokens["organizer"], expect=201,
            json={**plan, "heat_gj": "720", "meals": "48000", "waste_kg": "21000"})
    bar.step("marathon's actual data filed: final figure recomputed")
    offset = gw.call("POST", f"/api/v1/events/{event['id']}/offsets", tokens["organizer"],
                     expect=201, json={})
    bar.step(f"marathon offset: {offset['quantity']} credits bought and retired")
    token, firm, filed = reports[0]
    gw.call("POST", "/api/v1/transfers", dev, expect=201, json={"to_username": firm_users[0], "quantity": 300})
    retired = gw.call("POST", "/api/v1/retirements", token, expect=201, retry_404=True, json={
        "quantity": 300, "beneficiary": firm["name"], "purpose": f"{filed['period']} 部分碳中和",
        "report_id": filed["id"]})
    bar.step("300 credits retired against a report")

    console = f"{gw.url}/console/"
    print(f"\nDemo {run} seeded: {len(citizens)} citizens, {accepted} trips accepted, "
          f"{len(ENTERPRISES)} enterprises, project {project['id']}, event offset certificate "
          f"{offset['certificate']['certificate_id']}.")
    print(f"\nOpen the console: {console}   (every password: {PASSWORD}; the transit operator\n"
          f"{names['transit_operator']} is a machine client, with client credentials)")
    for role, username in [("citizen", citizens[0]), ("enterprise", firm_users[0]),
                           ("project developer", names["project_developer"]),
                           ("verifier", names["verifier"]), ("organizer", names["organizer"])]:
        print(f"  {role:<18} {username}")
    print(f"  {'regulator':<18} {regulator}\n  {'administrator':<18} {admin}")
    print(f"  {'transit operator':<18} client_id {operator_client['client_id']}  "
          f"client_secret {operator_client['client_secret']}\n"
          f"  {'':<18} its sample day of trips to upload: {sample}")
    print(f"  certificates       {console}#/verify/{offset['certificate']['certificate_id']}\n"
          f"                     {console}#/verify/{retired['certificate_id']}")
    print(f"  registry           {console}#/registry  (serial {offset['certificate']['serials'][0]})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
