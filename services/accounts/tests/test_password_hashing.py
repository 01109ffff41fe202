"""Password hashes: argon2id at OWASP's minimum, older hashes still accepted, bounded concurrency."""
from __future__ import annotations

import threading
import time

import pytest
from argon2 import PasswordHasher

from tanhui_accounts import security
from tanhui_accounts.security import hash_password, password_matches


@pytest.fixture(autouse=True)
def production_cost(monkeypatch):
    # an app built for a test platform in this process may have chosen the test cost
    monkeypatch.setattr(security, "_hasher", security.PRODUCTION_HASHER)


def test_new_hashes_use_owasps_minimum_argon2id_parameters():
    stored = hash_password("a long password")
    assert stored.startswith("$argon2id$v=19$m=19456,t=2,p=1$")
    assert password_matches(stored, "a long password")
    assert not password_matches(stored, "another long password")


def test_hashes_made_with_the_earlier_parameters_still_verify():
    earlier = PasswordHasher().hash("a long password")  # argon2-cffi's default: 64 MiB, t=3, p=4
    assert "m=65536,t=3,p=4" in earlier
    assert password_matches(earlier, "a long password")
    assert not password_matches(earlier, "wrong password!")


def test_no_more_than_two_hashes_run_at_once(monkeypatch):
    running, most = 0, 0
    lock = threading.Lock()
    real_hash = security._hasher.hash

    def counting_hash(password: str) -> str:
        nonlocal running, most
        with lock:
            running += 1
            most = max(most, running)
        try:
            time.sleep(0.05)  # hold the slot long enough for the other threads to pile up
            return real_hash(password)
        finally:
            with lock:
                running -= 1

    class Counting:  # PasswordHasher has slots: wrap it rather than patch its method
        hash = staticmethod(counting_hash)

    monkeypatch.setattr(security, "_hasher", Counting())
    threads = [threading.Thread(target=hash_password, args=("a long password",)) for _ in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert most == 2
