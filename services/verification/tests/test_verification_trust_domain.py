"""Pure trust rules: certificate keys, plausibility ceilings, and which grant a decision stands
under (no I/O)."""
from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tanhui_shared.errors import Invalid
from tanhui_verification.domain.accreditation import (Grant, NotAccredited, decision_day,
                                                      standing_grant)
from tanhui_verification.domain.certificates import certificate_key, checked_certificate_key
from tanhui_verification.domain.plausibility import (BAMBOO_REMOVAL_CEILING,
                                                     TREE_REMOVAL_CEILING, PlausibilityBounds,
                                                     check_period_length, check_plausible,
                                                     max_removal, period_days)
from tanhui_verification.domain.rules import Period, RuleViolation
from verification_support import CERTIFICATE, VARIANTS

LATIN = "ZJ-LQ-2021-000123"
LATIN_VARIANTS = ["zj-lq-2021-000123", "ＺＪ－ＬＱ－２０２１－０００１２３", "ZJ\u2010LQ\u20132021\u2014000123",
                  " ZJ - LQ - 2021 - 000123 ", "Zj-Lq-2021-000\u200c123", "ZJ\u2212LQ-2021-000123",
                  "ZJ-LQ-2021-000123\t\n"]


@pytest.mark.parametrize("variant", VARIANTS)
def test_every_spelling_of_a_chinese_certificate_has_one_key(variant):
    assert certificate_key(variant) == certificate_key(CERTIFICATE) == "浙(2021)龙泉市林权证第0001234号"


@pytest.mark.parametrize("variant", LATIN_VARIANTS)
def test_every_spelling_of_a_latin_certificate_has_one_key(variant):
    assert certificate_key(variant) == certificate_key(LATIN) == "zj-lq-2021-000123"


def test_different_certificates_keep_different_keys():
    keys = {certificate_key(c) for c in ["ZJ-LQ-2021-000123", "ZJ-LQ-2021-000124", "ZJLQ2021000123",
                                         "浙(2021)龙泉市林权证第0001235号", "浙(2022)龙泉市林权证第0001234号"]}
    assert len(keys) == 5  # punctuation that differs (a dash or none) is a different number


def test_a_certificate_with_nothing_visible_is_422():
    for invisible in ["\u200b", " \u3000\t", "\ufeff\u2060\u00ad"]:
        assert certificate_key(invisible) == ""
        with pytest.raises(Invalid) as refused:
            checked_certificate_key(invisible)
        assert refused.value.status == 422 and refused.value.field == "forest_rights_certificate"


@given(st.text(max_size=60))
def test_the_key_is_its_own_key(text):
    # a stored key normalizes to itself, so comparing keys is comparing certificates
    key = certificate_key(text)
    assert certificate_key(key) == key
    assert not any(c.isspace() for c in key)


def test_the_documented_ceilings():
    # 25 t d.m. x 1.24 x 0.47 x 44/12 = 53.4233..., 7.6 t C x 44/12 = 27.8666...: rounded up
    assert TREE_REMOVAL_CEILING == Decimal("53.43")
    assert BAMBOO_REMOVAL_CEILING == Decimal("27.87")


def test_period_length_counts_both_ends_and_a_full_year_is_the_minimum():
    bounds = PlausibilityBounds.defaults()
    year = Period(date(2022, 1, 1), date(2022, 12, 31))
    assert period_days(year) == 365
    check_period_length(bounds, year)
    for short in [Period(date(2024, 1, 1), date(2024, 1, 2)),  # the issue's two days
                  Period(date(2022, 1, 1), date(2022, 12, 30))]:
        with pytest.raises(RuleViolation) as refused:
            check_period_length(bounds, short)
        assert refused.value.field == "period_end"


def test_the_issues_claims_exceed_the_ceiling_and_a_real_one_does_not():
    bounds = PlausibilityBounds.defaults()
    two_days = Period(date(2024, 1, 1), date(2024, 1, 2))
    year = Period(date(2022, 1, 1), date(2022, 12, 31))
    assert max_removal(bounds, "bamboo", Decimal(1), year) == BAMBOO_REMOVAL_CEILING
    for period, tonnes in [(two_days, Decimal(4500)), (year, Decimal(4500)),
                           (year, Decimal(10_000_000))]:
        with pytest.raises(RuleViolation) as refused:
            check_plausible(bounds, "bamboo", Decimal(1), period, tonnes, "project_sink_tco2e")
        assert refused.value.field == "project_sink_tco2e"
    check_plausible(bounds, "bamboo", Decimal(1), year, BAMBOO_REMOVAL_CEILING, "verified_tco2e")
    # the walking skeleton's report: 4,300.25 t from 1,250.5 ha of afforestation in a year
    check_plausible(bounds, "tree", Decimal("1250.5"), year, Decimal("4300.25"), "x")
    with pytest.raises(RuleViolation):
        check_plausible(bounds, "bamboo", Decimal(1), year, BAMBOO_REMOVAL_CEILING
                        + Decimal("0.0001"), "verified_tco2e")


def _grant(**overrides) -> Grant:
    values = {"accreditation_id": "acc-1", "number": "CNCA-V-001", "organisation": "Centre",
              "valid_from": date(2024, 1, 1), "valid_to": date(2026, 12, 31),
              "granted_at": datetime(2024, 1, 1, tzinfo=UTC)}
    return Grant(**{**values, **overrides})


def test_a_decision_stands_under_a_grant_valid_on_its_day():
    assert standing_grant([_grant()], date(2024, 1, 1)).accreditation_id == "acc-1"
    assert standing_grant([_grant()], date(2026, 12, 31)).accreditation_id == "acc-1"
    renewed = _grant(accreditation_id="acc-2", valid_to=date(2029, 12, 31),
                     granted_at=datetime(2025, 1, 1, tzinfo=UTC))
    assert standing_grant([_grant(), renewed], date(2025, 6, 1)).accreditation_id == "acc-2"


@pytest.mark.parametrize(("grants", "day", "code", "says"), [
    ([], date(2025, 1, 1), "not-accredited", "no verifier accreditation"),
    ([_grant()], date(2027, 1, 1), "accreditation-expired", "expired on 2026-12-31"),
    ([_grant()], date(2023, 12, 31), "accreditation-not-yet-valid", "valid from 2024-01-01"),
    ([_grant(revoked_at=datetime(2025, 3, 1, 20, 0, tzinfo=UTC))], date(2025, 6, 1),
     "accreditation-revoked", "revoked on 2025-03-02"),  # 20:00 UTC is the 2nd in the city
])
def test_a_refusal_says_why(grants, day, code, says):
    with pytest.raises(NotAccredited) as refused:
        standing_grant(grants, day)
    assert refused.value.status == 403 and refused.value.code == code
    assert says in refused.value.detail


def test_the_decision_day_is_the_citys_calendar_day():
    assert decision_day(datetime(2025, 12, 31, 16, 0, tzinfo=UTC)) == date(2026, 1, 1)
