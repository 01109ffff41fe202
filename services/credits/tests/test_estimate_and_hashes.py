"""Large-event estimate, emission-factor derivations, certificate and audit-chain hashes (pure)."""
from __future__ import annotations

import hashlib
from datetime import date
from decimal import Decimal

from tanhui_credits.domain.event_estimate import EventActivity, estimate
from tanhui_credits.domain.hashing import (GENESIS_HASH, ChainLink, canonical_json,
                                           certificate_hash, chain_hash, first_broken_link)
from tanhui_shared.methodology import FACTORS

BY_CODE = {factor.code: factor for factor in FACTORS}  # one version of each code today
DAY = date(2025, 10, 26)


def test_fuel_factors_are_derived_from_their_components():
    assert round(BY_CODE["fuel.diesel"].value, 4) == Decimal("3.0959")
    assert round(BY_CODE["fuel.gasoline"].value, 4) == Decimal("2.9251")
    assert round(BY_CODE["fuel.natural_gas"].value, 2) == Decimal("21.62")  # per 10^4 Nm3


def test_every_factor_says_where_it_comes_from():
    assert len({(f.code, f.version) for f in FACTORS}) == len(FACTORS)
    for factor in FACTORS:
        assert factor.source and factor.version and factor.unit and factor.value > 0
        assert "approx" not in factor.source


def test_worked_example_of_an_event_estimate():
    # 20 000 kWh on the Sichuan 2023 grid, 0.5 t diesel, 100 000 person-km by rail and 20 000 by
    # air, 300 hotel nights, 2 000 meals, 500 kg of print and 1 000 kg of waste.
    result = estimate(EventActivity(
        electricity_kwh=Decimal(20_000), grid_region="sichuan", grid_year=2023,
        diesel_t=Decimal("0.5"), travel=(("rail", Decimal(100_000)), ("air", Decimal(20_000))),
        accommodation_nights=Decimal(300), meals=Decimal(2000),
        printed_materials_kg=Decimal(500), waste_kg=Decimal(1000)), DAY, DAY)
    by_line = {line.activity: line.tco2e for line in result.lines}
    assert by_line["electricity"] == Decimal("3.128")  # 20 000 x 0.1564 kg / 1000
    assert round(by_line["diesel"], 4) == Decimal("1.5480")  # 0.5 x 3.09591
    assert by_line["travel by rail"] == Decimal("3.546")  # 100 000 x 0.03546 kg (DESNZ 2024)
    assert by_line["travel by air"] == Decimal("5.4514")  # 20 000 x 0.27257 kg (DESNZ 2024)
    assert by_line["accommodation"] == Decimal("16.05")  # 300 x 53.5 kg
    assert by_line["meals"] == Decimal("5")  # 2 000 x 2.5 kg (platform assumption)
    # 500 kg x 1345.0779 kg/t (DESNZ 2025, paper, primary material production) / 1000
    assert by_line["printed materials"] == Decimal("0.67253895")
    assert by_line["waste"] == Decimal("0.5203342")  # 1 t x 520.3342 kg/t (DESNZ 2024)
    assert result.total_tco2e == sum(by_line.values())
    assert result.by_category["travel"] == Decimal("8.9974")
    assert result.credits_to_neutralise() == 36  # 35.916... rounded up
    assert {line.factor.code for line in result.lines} >= {"grid.sichuan.2023",
                                                             "travel.air.domestic"}


def test_an_empty_event_emits_nothing():
    assert estimate(EventActivity(), DAY, DAY).total_tco2e == 0
    assert estimate(EventActivity(), DAY, DAY).credits_to_neutralise() == 0


def test_certificate_hash_changes_when_any_field_changes():
    fields = {"beneficiary": "Chengdu Marathon 2025", "purpose": "event neutrality",
              "quantity": 36, "serials": ["NC-FS-0004-2025-000000001-000000036"],
              "retired_at": "2025-11-02T10:00:00+00:00"}
    digest = certificate_hash(fields)
    assert digest == hashlib.sha256(canonical_json(fields).encode()).hexdigest()
    assert certificate_hash(dict(reversed(list(fields.items())))) == digest  # key order is moot
    assert certificate_hash({**fields, "quantity": 37}) != digest
    assert certificate_hash({**fields, "beneficiary": "Someone else"}) != digest


def test_chain_links_and_the_first_broken_one():
    bodies = [{"kind": "issue", "n": 1}, {"kind": "transfer", "n": 2}, {"kind": "retire", "n": 3}]
    links, prev = [], GENESIS_HASH
    for seq, body in enumerate(bodies, start=1):
        link = ChainLink(seq, prev, body, chain_hash(prev, body))
        links.append(link)
        prev = link.hash
    assert first_broken_link(links) is None
    tampered = [links[0], ChainLink(2, links[1].prev_hash, {"kind": "transfer", "n": 9},
                                    links[1].hash), links[2]]
    assert first_broken_link(tampered) == (2, "content does not match its hash")
    assert first_broken_link([links[0], links[2]])[0] == 3  # a deleted entry
