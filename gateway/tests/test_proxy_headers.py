"""What reaches a service: no client-sent identity or address claims; the client address from the
socket unless a trusted proxy vouches for it."""
from __future__ import annotations

import ipaddress

from tanhui_gateway.proxy import client_address, is_client_identity_header, upstream_headers


def test_identity_and_address_claims_from_clients_are_dropped():
    raw = [(k.encode(), v.encode()) for k, v in [
        ("Authorization", "Bearer t"), ("Content-Type", "application/json"), ("Idempotency-Key", "k"),
        ("X-User-Id", "admin"), ("X-User-Role", "admin"), ("X-Role", "admin"), ("X-Roles", "admin"),
        ("X-Authenticated-User", "admin"), ("X-Authenticated-Sub", "x"), ("X-Forwarded-For", "1.2.3.4"),
        ("X-Forwarded-Host", "evil"), ("X-Forwarded-Proto", "https"), ("Forwarded", "for=1.2.3.4"),
        ("X-Real-IP", "1.2.3.4"), ("X-Request-ID", "client-chosen"), ("Connection", "keep-alive"),
        ("Host", "gateway"), ("Content-Length", "999"), ("Transfer-Encoding", "chunked"),
    ]]
    sent = upstream_headers(raw, "10.0.0.7", "rid-1", has_body=True, body_length=12)
    assert sent == [("authorization", "Bearer t"), ("content-type", "application/json"),
                    ("idempotency-key", "k"), ("x-request-id", "rid-1"),
                    ("x-forwarded-for", "10.0.0.7"), ("content-length", "12")]


def test_identity_header_names():
    for name in ("X-User-Email", "x-role-override", "X-Authenticated-Groups", "X-Forwarded-Port"):
        assert is_client_identity_header(name)
    for name in ("Authorization", "Accept", "X-Requested-With", "Idempotency-Key"):
        assert not is_client_identity_header(name)


PROXIES = (ipaddress.ip_network("10.0.0.0/8"),)


def test_the_socket_address_unless_a_trusted_proxy_speaks():
    # Nobody trusted: X-Forwarded-For is the client's own claim and is ignored.
    assert client_address("203.0.113.9", ["1.1.1.1"], ()) == "203.0.113.9"
    # A stranger cannot name itself someone else, even when proxies are configured.
    assert client_address("203.0.113.9", ["1.1.1.1"], PROXIES) == "203.0.113.9"
    # Behind our proxy: the right-most address that is not one of our proxies.
    assert client_address("10.0.0.2", ["6.6.6.6, 198.51.100.4"], PROXIES) == "198.51.100.4"
    assert client_address("10.0.0.2", ["6.6.6.6, 198.51.100.4, 10.0.0.3"], PROXIES) == "198.51.100.4"
    # Garbage in the header: stop at the last address we can vouch for.
    assert client_address("10.0.0.2", ["198.51.100.4, not-an-ip"], PROXIES) == "10.0.0.2"
    # A trusted proxy with no header: the proxy itself.
    assert client_address("10.0.0.2", [], PROXIES) == "10.0.0.2"
