"""Certificates' QR codes point at TANHUI_PUBLIC_BASE_URL: production must name it."""
from __future__ import annotations

import pytest
from pydantic import ValidationError

from tanhui_credits.settings import CreditsSettings

PRODUCTION = {"env": "production", "database_url": "postgresql+psycopg://u@db/credits",
              "kafka_security_protocol": "SASL_PLAINTEXT", "kafka_sasl_username": "credits",
              "kafka_sasl_password": "x" * 24}


def test_production_without_a_public_address_refuses_to_start():
    with pytest.raises(ValidationError, match="TANHUI_PUBLIC_BASE_URL must be set in production"):
        CreditsSettings(**PRODUCTION)


def test_production_keeps_the_address_it_is_given_without_a_trailing_slash():
    settings = CreditsSettings(**PRODUCTION, public_base_url="https://tanhui.nanchong.example.cn/")
    assert settings.public_base_url == "https://tanhui.nanchong.example.cn"


@pytest.mark.parametrize("env", ["development", "test"])
def test_outside_production_the_local_gateway_is_the_default(env):
    settings = CreditsSettings(env=env, database_url="postgresql+psycopg://u@127.0.0.1/credits")
    assert settings.public_base_url == "http://127.0.0.1:8000"


def test_an_address_that_is_not_http_is_refused():
    with pytest.raises(ValidationError, match="must be an http"):
        CreditsSettings(**PRODUCTION, public_base_url="tanhui.example.cn")
