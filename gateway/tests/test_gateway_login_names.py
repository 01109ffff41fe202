"""Whom a token request names, read as the accounts service reads it: every spelling of one name
gives one bucket, and no body names one user to the gateway and another to the service."""
from __future__ import annotations

import base64
from typing import Annotated

import pytest
from fastapi import FastAPI, Form
from fastapi.testclient import TestClient

from tanhui_gateway.login import UnreadableLogin, bucket, fold, login_names
from tanhui_shared.testing.coroutines import run_coroutine

FORM = [(b"content-type", b"application/x-www-form-urlencoded")]


def names(body: bytes, headers=FORM) -> set[str]:
    return run_coroutine(login_names(list(headers), body))


def test_spellings_of_one_name_fold_to_one_bucket():
    spellings = ["lihua", "LiHua", "ＬＩＨＵＡ", "li\u200bhua", " lihua ", "li\u00adhua", "\ufefflihua",
                 "li\u200dhua", "lihua\t"]
    assert {fold(s) for s in spellings} == {"lihua"}
    assert len({bucket(fold(s)) for s in spellings}) == 1
    assert fold("straße") == fold("STRASSE")  # case folding, not lower()
    assert bucket(fold("lihua")) != bucket(fold("lihub"))


def test_the_password_grant_names_its_username():
    assert names(b"grant_type=password&username=Li%EF%BC%A8ua&password=x") == {"lihua"}
    assert names(b"username=a+b&password=x") == {"ab"}


@pytest.mark.parametrize("body", [
    b"password=guess;username=lihua", b"username=x&username=lihua&password=p",
    b"username=LI%48UA&password=p", b"username=li+hua&password=p", b"Username=lihua&username=b",
    b"username=li%zzhua&password=p", b"username&password=p", b"%75sername=lihua",
])
def test_the_name_counted_is_the_name_the_service_reads(body):
    # the accounts service's token endpoint takes its fields with FastAPI's Form()
    service = FastAPI()

    @service.post("/token")
    def token(username: Annotated[str | None, Form()] = None) -> dict:
        return {"username": username}

    with TestClient(service) as client:
        seen = client.post("/token", content=body, headers={"content-type": FORM[0][1].decode()})
    read = seen.json()["username"]
    if read is not None:  # without a username the service refuses the request unread (422)
        assert fold(read) in names(body), (read, names(body))


def test_a_multipart_form_is_read_like_the_service_reads_it():
    body = (b"--b\r\nContent-Disposition: form-data; name=\"username\"\r\n\r\nLIHUA\r\n"
            b"--b\r\nContent-Disposition: form-data; name=\"password\"\r\n\r\nguess\r\n--b--\r\n")
    assert names(body, [(b"content-type", b"multipart/form-data; boundary=b")]) == {"lihua"}


def test_client_credentials_name_the_client_in_the_form_or_basic():
    assert names(b"grant_type=client_credentials&client_id=Bus-Co&client_secret=s") == {"bus-co"}
    basic = base64.b64encode(b"Bus%2DCo:secret")
    assert names(b"grant_type=client_credentials",
                 [*FORM, (b"authorization", b"Basic " + basic)]) == {"bus-co"}


def test_no_name_means_no_per_name_count_and_many_names_are_refused():
    assert names(b"password=x") == set()
    assert names(b"", []) == set()
    with pytest.raises(UnreadableLogin):
        names(b"username=a&username=b&username=c&password=x")
    # undecodable Basic credentials name no client (the service refuses them unread)
    assert names(b"username=a", [*FORM, (b"authorization", b"Basic !!!")]) == {"a"}
