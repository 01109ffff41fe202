"""The gateway's settings, from `TANHUI_*` environment variables (see gateway/README.md)."""
from __future__ import annotations

import ipaddress
from functools import lru_cache

from pydantic import field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

IpNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network


class GatewaySettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="TANHUI_", extra="ignore")

    log_level: str = "INFO"
    accounts_url: str = "http://127.0.0.1:8101"
    verification_url: str = "http://127.0.0.1:8102"
    credits_url: str = "http://127.0.0.1:8103"
    upstream_timeout_s: float = 30.0
    upstream_connect_timeout_s: float = 3.0
    upstream_max_connections: int = 200

    # Tokens: what accounts signs, and how often we may ask it for its keys again.
    jwt_issuer: str = "tanhui-accounts"
    jwt_audience: str = "tanhui"
    jwks_min_refresh_s: float = 10.0   # an unknown kid triggers at most one fetch per interval
    jwks_max_age_s: float = 300.0      # known keys are refetched this often anyway (rotation)
    jwt_leeway_s: int = 5

    # Rate limits: requests per window, per user (token sub) or per client IP when anonymous.
    redis_url: str = "redis://127.0.0.1:16379/0"
    rate_limit_prefix: str = "tanhui:rl"
    rate_limit_window_s: int = 60
    rate_limit_auth: int = 20
    rate_limit_write: int = 120
    rate_limit_read: int = 600
    rate_limit_batch: int = 30
    # When Redis cannot be asked: let reads through uncounted, refuse writes with 503.
    rate_limit_fail_open_reads: bool = True
    rate_limit_fail_open_writes: bool = False
    redis_timeout_s: float = 1.0  # Redis answers in well under 1 ms; 1 s means it is not there
    redis_retry_after_failure_s: float = 1.0  # skip Redis this long after it failed (no pile-up)
    # Peers whose X-Forwarded-For is believed (CIDRs, comma-separated). Empty: trust nobody.
    trusted_proxies: str = ""

    # Login attempts per user name (or client_id), whatever address they come from. OWASP ASVS
    # 4.0.3 V2.2.1: "no more than 100 failed attempts per hour ... on a single account". Fixed
    # windows of 600 s: any hour overlaps at most 7 of them, so at most 70 attempts an hour.
    rate_limit_login_username: int = 10
    rate_limit_login_window_s: int = 600

    max_header_bytes: int = 8192       # all request headers together -> 431 beyond
    # Slow clients (gateway/README.md, "Slow clients"). The request head must be complete this
    # long after the connection opened or the previous answer went out: 10 s as in Apache httpd
    # 2.4 mod_reqtimeout's first example (header=10; its default, 20-40 s, includes a TLS
    # handshake, which happens before us). A body gets body_timeout_s plus one second per
    # body_min_rate bytes received: mod_reqtimeout 2.4's default, body=20,MinRate=500.
    header_timeout_s: float = 10.0
    # An idle kept-alive connection is closed after this long: nginx's keepalive_timeout default
    # (75 s, ngx_http_core_module). It must outlast clients' idle expiry (httpx's is 5 s), or a
    # request sent on a connection the gateway is just closing fails with no answer (browsers
    # retry such a request, httpx does not). The head deadline starts at the head's first byte.
    keep_alive_timeout_s: float = 75.0
    body_timeout_s: float = 20.0
    body_min_rate: int = 500
    # /metrics: on a port of its own (served by prometheus_client's HTTP thread) and/or on the
    # public port for callers presenting this bearer token. Neither set: no /metrics at all.
    gateway_metrics_host: str = "127.0.0.1"
    gateway_metrics_port: int | None = None
    metrics_token: str = ""
    default_body_limit: int = 64 * 1024
    console_origin: str = "http://127.0.0.1:8000"
    openapi_cache_s: float = 30.0

    @field_validator("trusted_proxies")
    @classmethod
    def _cidrs_parse(cls, value: str) -> str:
        _parse_networks(value)  # fail at startup, not on the first request
        return value

    def trusted_networks(self) -> tuple[IpNetwork, ...]:
        return _parse_networks(self.trusted_proxies)

    def rate_limits(self) -> dict[str, int]:
        return {"auth": self.rate_limit_auth, "write": self.rate_limit_write,
                "read": self.rate_limit_read, "batch": self.rate_limit_batch,
                "login": self.rate_limit_login_username}

    def rate_windows(self) -> dict[str, int]:
        """Classes whose window is not rate_limit_window_s."""
        return {"login": self.rate_limit_login_window_s}

    def service_urls(self) -> dict[str, str]:
        return {
            "accounts": self.accounts_url,
            "verification": self.verification_url,
            "credits": self.credits_url,
        }


def _parse_networks(value: str) -> tuple[IpNetwork, ...]:
    return tuple(ipaddress.ip_network(part.strip(), strict=False)
                 for part in value.split(",") if part.strip())


@lru_cache
def get_settings() -> GatewaySettings:
    return GatewaySettings()
