"""docker-compose.yml names only real things: every command is an entry point in this repo."""
from __future__ import annotations

import importlib
import importlib.util
from pathlib import Path

import yaml

from tanhui_shared.devstack import SERVICES
from tanhui_shared.settings import REPO_ROOT

COMPOSE = yaml.safe_load((REPO_ROOT / "docker-compose.yml").read_text())["services"]


def _runs_as_main(module: str) -> bool:
    spec = importlib.util.find_spec(module)
    if spec is None:
        return False
    if spec.submodule_search_locations:  # a package runs through its __main__.py
        return importlib.util.find_spec(f"{module}.__main__") is not None
    return 'if __name__ == "__main__"' in Path(spec.origin).read_text()


def test_every_python_command_is_a_real_entry_point():
    checked = 0
    for name, service in COMPOSE.items():
        command = service.get("command") or []
        if command[:2] == ["python", "-m"]:
            assert _runs_as_main(command[2]), f"{name}: {command[2]} is not runnable with -m"
            checked += 1
        elif command[:1] == ["uvicorn"]:
            module, _, factory = command[1].partition(":")
            assert callable(getattr(importlib.import_module(module), factory)), name
            assert "--factory" in command, f"{name}: create_app is a factory"
            checked += 1
    assert checked >= 14


def test_each_service_runs_api_relay_consumer_and_migrations_on_its_own_database():
    for svc in SERVICES:
        assert (REPO_ROOT / "services" / svc).is_dir()
        for suffix in ("", "-relay", "-consumer", "-migrate"):
            assert f"{svc}{suffix}" in COMPOSE, f"{svc}{suffix} missing from docker-compose.yml"
        url = COMPOSE[svc]["environment"]["TANHUI_DATABASE_URL"]
        assert url.endswith(f"/tanhui_{svc}")


def test_only_the_gateway_publishes_a_port_and_dependencies_exist():
    published = {name for name, s in COMPOSE.items() if s.get("ports")}
    assert published == {"gateway"}
    for name, service in COMPOSE.items():
        deps = service.get("depends_on") or {}
        for dep in deps:
            assert dep in COMPOSE, f"{name} depends on unknown {dep}"
    assert COMPOSE["kafka"]["image"].startswith("apache/kafka:4.")
