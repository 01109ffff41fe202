"""The state the races of tools/races.py need, prepared through the public API only: users,
a forestry project taken to issued credits, holdings, a listing, an event, citizens with points."""
from __future__ import annotations


import os
import random
import sys
import time
import uuid
from collections import Counter
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import httpx

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from demo import PASSWORD, Gateway, accredit, create_operator_user  # noqa: E402  (tools/ is not a package)

from race_fire import _detail, log  # noqa: E402

CITY_TZ = ZoneInfo("Asia/Shanghai")  # the accounts service's daily caps follow this calendar day
MIN_PARALLEL = 20
ACCREDITED = ("verifier", "transit_operator")  # granted by an admin, never self-registered
POINTS_PER_CREDIT = 100_000  # a whole pooled tonne (1,000 kg); the API takes any multiple of 1,000
DEFAULT_METRO_CAP = 500  # TravelRules' default, used only if no answer names the cap
BUFFER_PCT = "20"


class SetupError(RuntimeError):
    """The state an attack needs could not be prepared; the message says what to do."""




# --------------------------------------------------------------------------------------------
# The prepared state


@dataclass
class User:
    name: str
    role: str
    token: str


@dataclass
class Scene:
    url: str
    run: str
    n: int
    users: dict[str, User] = field(default_factory=dict)
    verifiers: list[User] = field(default_factory=list)
    project_id: str = ""
    report_to_race: str = ""  # the monitoring report N verifiers verify at once
    race_vintage: int = 0
    listing_id: str = ""  # the 400 t listing the offsets race for
    event_id: str = ""
    uscc: str = ""
    enterprise_body: dict = field(default_factory=dict)
    filing_enterprise: str = ""
    period: str = ""
    redeemer_points: int = 0
    redeemer_note: str = ""
    trip_day: date | None = None


class Api:
    """demo.Gateway (429s wait as Retry-After says, 404s of new accounts retry), with failures
    raised as SetupError naming the step instead of exiting."""

    def __init__(self, url: str) -> None:
        self.gw = Gateway(url)

    def __call__(self, step: str, method: str, path: str, token: str | None = None,
                 expect: int = 200, **kwargs) -> Any:
        try:
            return self.gw.call(method, path, token, expect, **kwargs)
        except SystemExit as exc:
            raise SetupError(f"{step}: {str(exc).strip()}") from None
        except httpx.HTTPError as exc:
            raise SetupError(f"{step}: {exc.__class__.__name__}: {exc} (is the platform still "
                             f"running at {self.gw.url}?)") from None

    def user(self, role: str, username: str, admin_token: str | None = None) -> User:
        """A self-registered user; a verifier or transit operator is accredited by the admin."""
        try:
            token = (accredit(self.gw, admin_token, role, username) if role in ACCREDITED
                     else self.gw.user(role, username))
        except SystemExit as exc:
            raise SetupError(f"registering {role} {username}: {str(exc).strip()}") from None
        assert token is not None
        return User(username, role, token)

    def holdings(self, user: User) -> dict:
        return self(f"holdings of {user.name}", "GET", "/api/v1/holdings", user.token,
                    retry_404=True)


def wait_for(what: str, probe: Callable[[], Any], timeout_s: float, hint: str) -> Any:
    """Poll `probe` until it returns something truthy; progress every 5 s; SetupError on timeout."""
    started = time.monotonic()
    said = started
    while True:
        found = probe()
        if found:
            return found
        now = time.monotonic()
        if now - started > timeout_s:
            raise SetupError(f"{what} did not happen within {timeout_s:.0f} s: {hint}")
        if now - said >= 5:
            log(f"  still waiting for {what} ({now - started:.0f} s)")
            said = now
        time.sleep(0.5)


def uscc(rng: random.Random) -> str:
    """A well-formed unified social credit code (GB 32100-2015 check character)."""
    alphabet = "0123456789ABCDEFGHJKLMNPQRTUWXY"
    weights = (1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28)
    body = "91511300" + "".join(rng.choice(alphabet) for _ in range(9))
    check = sum(alphabet.index(c) * w for c, w in zip(body, weights, strict=True))
    return body + alphabet[(31 - check % 31) % 31]


def _local(day: date, hour: float) -> datetime:
    return datetime.combine(day, datetime.min.time(), CITY_TZ) + timedelta(hours=hour)


def points_trips(username: str, days: int, run: str) -> list[dict]:
    """Trips that fill a citizen's daily cap (1,000 points by default) on each of `days` past
    days, at plausible speeds and without overlaps: metro 110 km in 1 h (500-point metro cap),
    bus 115 km in 1.5 h (300-point bus cap), bike 43 km in 1.5 h (the rest of the day's cap:
    43 km x 46.7 g = 2,008 g, 200 points)."""
    today = datetime.now(CITY_TZ).date()
    shapes = (("metro", "110", 7.0, 1.0), ("bus", "115", 9.0, 1.5), ("bike", "43", 18.0, 1.5))
    trips = []
    for back in range(1, days + 1):
        day = today - timedelta(days=back)
        for mode, km, hour, hours in shapes:
            start = _local(day, hour)
            trips.append({"username": username, "mode": mode, "distance_km": km,
                          "started_at": start.isoformat(),
                          "ended_at": (start + timedelta(hours=hours)).isoformat(),
                          "external_id": f"race-{run}-{back}-{mode}"})
    return trips


def record_own_trips(api: Api, citizen: User, trips: list[dict]) -> list[dict]:
    """The citizen's own POST /trips, one at a time (when there is no transit operator); under
    `make up` the write limit (120 a minute) makes this minutes. Returns the refusals."""
    refused = []
    for i, trip in enumerate(trips):
        body = {k: v for k, v in trip.items() if k != "username"}
        while True:
            answer = api.gw.http.post("/api/v1/trips", json=body,
                                      headers={"Authorization": f"Bearer {citizen.token}"})
            if answer.status_code != 429:
                break
            time.sleep(float(answer.headers.get("Retry-After", "1")))
        if answer.status_code != 201:
            try:
                reason = _detail(answer.json())
            except ValueError:
                reason = f"{answer.status_code} {answer.text[:100]}"
            refused.append({"index": i, "reason": reason})
        if i % 50 == 49:
            log(f"  {i + 1}/{len(trips)} trips recorded")
    return refused


def prepare(url: str, n: int) -> Scene:
    api = Api(url)
    try:
        ready = httpx.get(api.gw.url + "/readyz?deep=true", timeout=10)
    except httpx.HTTPError as exc:
        raise SetupError(f"nothing answers at {api.gw.url} ({exc.__class__.__name__}): is "
                         f"`make up` running there? Give its gateway URL as the first argument."
                         ) from None
    if ready.status_code != 200:
        raise SetupError(f"the platform at {api.gw.url} is not ready (/readyz?deep=true answered "
                         f"{ready.status_code}: {ready.text[:200]}); wait for `make up` to say "
                         f"ready, or see .var/logs/")
    run = uuid.uuid4().hex[:6]
    rng = random.Random(run)
    scene = Scene(url=api.gw.url, run=run, n=n)
    log(f"run {run}: preparing state on {api.gw.url} (N = {n})")

    # An administrator (the operators' CLI on the accounts database) accredits the verifiers and
    # licenses the transit operator, as in production.
    try:
        admin = create_operator_user(f"race-{run}-admin", "admin")
    except SystemExit as exc:
        raise SetupError(str(exc)) from None
    admin_token = api("logging the administrator in", "POST", "/api/v1/auth/token",
                      data={"username": admin, "password": PASSWORD})["access_token"]
    # Users. Registrations are rate-limited per address under `make up`: demo.Gateway waits.
    plan = [("dev", "project_developer"), ("reviewer", "verifier"), ("organizer", "organizer"),
            ("holder-a", "enterprise"), ("holder-b", "enterprise"), ("holder-r", "enterprise"),
            ("holder-l", "enterprise"), ("firm", "enterprise"), ("operator", "transit_operator"),
            ("c-cap", "citizen"), ("c-dup", "citizen"), ("c-redeem", "citizen")]
    plan += [(f"v{i:02d}", "verifier") for i in range(n)]
    log(f"registering {len(plan)} users (race-{run}-*); under `make up` the gateway allows 20 "
        f"registrations and logins a minute per address, so this can take a few minutes")
    done = Counter()

    def make(item: tuple[str, str]) -> tuple[str, User | None]:
        key, role = item
        try:  # one client for every thread: httpx's Client is thread-safe
            made = api.user(role, f"race-{run}-{key}", admin_token)
        except SetupError as exc:
            if key != "operator":
                raise
            # Without a licensed transit operator the citizen records its own trips.
            log(f"no transit operator ({exc}); the citizen will record its own trips")
            made = None
        done["users"] += 1
        if done["users"] % 10 == 0:
            log(f"  {done['users']}/{len(plan)} users")
        return key, made

    with ThreadPoolExecutor(4) as pool:
        for key, made in pool.map(make, plan):
            if made is not None:
                scene.users[key] = made
    scene.verifiers = [scene.users[f"v{i:02d}"] for i in range(n)]
    u = scene.users
    log("waiting for credits to open the holding accounts (UserRegistered through Kafka)")
    for key in ("dev", "organizer", "holder-a", "holder-b", "holder-r", "holder-l"):
        api.holdings(u[key])

    # A forestry project taken to issued credits: 1,000 t verified, 20 % buffer -> 800 to dev.
    dev = u["dev"].token
    project = api("filing the project", "POST", "/api/v1/projects", dev, expect=201, json={
        "name": f"race project {run}", "kind": "afforestation", "county": "嘉陵区",
        "area_ha": "1820.5", "forest_rights_holder": "嘉陵区林业合作社",
        "forest_rights_certificate": f"川(2021)嘉陵区林权第race{run}号",
        "crediting_start": "2021-01-01", "crediting_years": 30,
        # CCER-14-001-V01 land eligibility (issue 13)
        "vegetation": "tree", "non_forest_since": "2010-01-01", "smallest_parcel_m2": "5000",
        "land_is_wetland": False, "burning_site_preparation": False,
        "description": "state for tools/races.py"})
    scene.project_id = project["id"]
    api("submitting the project", "POST", f"/api/v1/projects/{project['id']}/submit", dev)
    # accreditations reach verification as events: a 403 until they have
    api("approving the design", "POST", f"/api/v1/projects/{project['id']}/reviews",
        u["reviewer"].token, expect=201, retry_403=True,
        json={"decision": "approve", "comments": "race", "buffer_pct": BUFFER_PCT})
    first = api("filing monitoring report 1", "POST",
                f"/api/v1/projects/{project['id']}/monitoring-reports", dev, expect=201,
                json={"period_start": "2021-01-01", "period_end": "2022-12-31",
                      "project_sink_tco2e": "1500", "baseline_sink_tco2e": "300",
                      "leakage_tco2e": "100"})
    second = api("filing monitoring report 2", "POST",
                 f"/api/v1/projects/{project['id']}/monitoring-reports", dev, expect=201,
                 json={"period_start": "2023-01-01", "period_end": "2024-12-31",
                       "project_sink_tco2e": "600", "baseline_sink_tco2e": "100",
                       "leakage_tco2e": "50"})
    scene.report_to_race, scene.race_vintage = second["id"], 2024
    api("verifying monitoring report 1", "POST",
        f"/api/v1/monitoring-reports/{first['id']}/verifications", scene.verifiers[0].token,
        expect=201, retry_403=True, json={"decision": "verified", "verified_tco2e": "1000", "comments": "race"})
    log("waiting for the issuance (MonitoringVerified -> credits, through Kafka)")
    wait_for("800 credits issued to the developer",
             lambda: api.holdings(u["dev"])["total"] >= 800, 90,
             "is the credits consumer running? see .var/logs/credits-consumer.log")

    # Holdings for the attacks, from the developer's 800.
    for key, quantity in (("holder-a", 100), ("holder-r", 100), ("holder-l", 100)):
        api(f"transferring {quantity} to {key}", "POST", "/api/v1/transfers", dev, expect=201,
            json={"to_username": u[key].name, "quantity": quantity})
    # One credit for the city's inclusion pool, so the one allowed redemption can complete.
    api("transferring 1 to the city's inclusion pool", "POST", "/api/v1/transfers", dev,
        expect=201, json={"to_username": "city-inclusion-pool", "quantity": 1})
    # The 400 t listing the offsets race for: the cheapest price there can be, so the market
    # (cheapest first) sells it before any other.
    listing = api("listing 400 t", "POST", "/api/v1/listings", dev, expect=201,
                  json={"quantity": 400, "price_per_tonne": "0.01"})
    scene.listing_id = listing["id"]
    year = datetime.now(CITY_TZ).year
    event = api("registering an event", "POST", "/api/v1/events", u["organizer"].token,
                expect=201, json={"name": f"race event {run}", "start_date": f"{year}-05-01",
                                  "end_date": f"{year}-05-01", "venue": "南充市体育中心",
                                  "attendees": 500, "electricity_kwh": "20000",
                                  "grid_region": "sichuan"})
    scene.event_id = event["id"]

    # Enterprises: one USCC to race for; another enterprise whose report period is raced.
    firm = u["firm"].token
    scene.uscc = uscc(rng)
    scene.enterprise_body = {"name": f"race firm {run}", "uscc": scene.uscc, "county": "顺庆区",
                             "industry": "建材"}
    filer = api("registering the filing enterprise", "POST", "/api/v1/enterprises", firm,
                expect=201, json={"name": f"race filer {run}", "uscc": uscc(rng),
                                  "county": "高坪区", "industry": "建材"})
    scene.filing_enterprise, scene.period = filer["id"], str(year - 1)

    # Points for one redemption: the caps allow 1,000 a day, so 101 days of trips. Trips older
    # than the platform's claim window (7 days by default) are refused, and the row then says
    # how far an honest citizen got.
    days = -(-POINTS_PER_CREDIT // 1000) + 1
    trips = points_trips(u["c-redeem"].name, days, run)
    log(f"feeding {len(trips)} trips over {days} past days for the redeeming citizen")
    if "operator" in u:
        fed = api("feeding trips (transit operator batch)", "POST", "/api/v1/trips/batch",
                  u["operator"].token, json={"trips": trips})
    else:
        fed = {"rejected": record_own_trips(api, u["c-redeem"], trips)}
    account = api("reading the citizen's points", "GET", "/api/v1/me/carbon-account",
                  u["c-redeem"].token)
    scene.redeemer_points = account["available"]
    if fed["rejected"]:
        reasons = Counter(r["reason"] for r in fed["rejected"])
        scene.redeemer_note = (f"{len(fed['rejected'])} of {len(trips)} trips refused "
                               f"({'; '.join(f'{v} x {k}' for k, v in reasons.most_common(3))})")
    if scene.redeemer_points < POINTS_PER_CREDIT:
        log(f"the citizen reached only {scene.redeemer_points} points through trips within the "
            f"daily caps ({scene.redeemer_note or 'no trip refused'})")
    scene.trip_day = datetime.now(CITY_TZ).date() - timedelta(days=1)
    log("state ready")
    return scene


