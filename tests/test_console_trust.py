"""The console's trust pages, clicked through in Chromium: the administrator accredits a
verification body (its first password shown once), the verifier changes that password, the
administrator revokes the grant, and anyone sees the grant and its revocation on the public list."""
from __future__ import annotations

import uuid

import pytest

from e2e_support import OFFICIALS, PASSWORD, eventually, login
from test_console_support import browser, console, gw  # noqa: F401

pytestmark = pytest.mark.infra


def test_an_admin_accredits_a_verifier_who_changes_its_password_then_revokes_it(console, gw, platform):
    admin_name, admin_password = OFFICIALS[platform.gateway_url.rstrip("/")]["admin"]
    admin = console()
    admin.login(admin_name, admin_password, lands_on="admin")
    page = admin.page
    username = f"cnas-{uuid.uuid4().hex[:8]}"
    organisation = f"四川省林业碳汇审核中心-{uuid.uuid4().hex[:4]}"
    form = "[data-form=grant]"
    page.select_option(f"{form} [name=role]", "verifier")
    page.fill(f"{form} [name=username]", username)
    page.fill(f"{form} [name=organisation]", organisation)
    page.fill(f"{form} [name=number]", "CNAS-V0123")
    page.click(f"{form} button[type=submit]")
    initial = page.wait_for_selector("[data-result=secret] code").inner_text()
    assert len(initial) >= 16
    page.wait_for_selector(f"[data-table=accreditations] >> text={organisation}")
    admin.shot("desktop-admin")

    # the grant reaches verification as an event; the verifier's queue opens once it has
    first = login(gw, username, initial)
    eventually(lambda: gw.get("/api/v1/verifiers/queue", headers=first),
               lambda r: r.status_code == 200, what="the accreditation in verification")
    verifier = console()
    verifier.login(username, initial, lands_on="verifier")
    verifier.open("password")
    verifier.expect_http_error(422)
    vpage = verifier.page
    vpage.fill("[data-form=password] [name=current_password]", initial)
    vpage.fill("[data-form=password] [name=new_password]", "password123")  # a common password
    vpage.fill("[data-form=password] [name=repeat]", "password123")
    vpage.click("[data-form=password] button[type=submit]")
    vpage.wait_for_selector("[data-form=password] [data-field=new_password].invalid")
    vpage.fill("[data-form=password] [name=new_password]", PASSWORD)
    vpage.fill("[data-form=password] [name=repeat]", PASSWORD)
    vpage.click("[data-form=password] button[type=submit]")
    vpage.wait_for_selector("[data-result=password] .ok")
    assert gw.post("/api/v1/auth/token", data={"username": username, "password": PASSWORD}).status_code == 200

    grant = next(g for g in gw.get("/api/v1/accreditations", params={"limit": 200}).json()["items"]
                 if g["username"] == username)
    revoke = f"[data-revoke='{grant['id']}']"
    page.fill(f"{revoke} [name=reason]", "认可证书被暂停")
    # the result box still shows the grant's note: wait for the revocation's own answer
    with page.expect_response(lambda r: r.url.endswith(f"/accreditations/{grant['id']}/revoke")) as answer:
        page.click(f"{revoke} button[type=submit]")
    assert answer.value.status == 200
    page.wait_for_selector("[data-result=secret] .ok")
    refused = gw.post("/api/v1/auth/token", data={"username": username, "password": PASSWORD})
    assert refused.status_code == 401, refused.text

    public = console()
    public.open("accreditations")
    row = public.page.wait_for_selector(f"[data-table=accreditations] tr:has-text('{organisation}')")
    assert "认可证书被暂停" in row.inner_text()
    assert row.query_selector(".state-revoked") is not None
    for tab in (admin, verifier, public):
        tab.assert_clean()
