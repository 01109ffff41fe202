"""Root of every test suite: the shared fixtures, and how `make test` splits the run between
pytest-xdist workers (`--dist loadgroup`)."""
from __future__ import annotations

from pathlib import Path

import pytest

pytest_plugins = ["tanhui_shared.testing.fixtures"]

_TESTS = Path(__file__).parent / "tests"
# The cross-service tests in two halves of similar length, each sharing one session platform
# (a worker starts one per half it runs); the rest of tests/ is the "platform-b" half.
_PLATFORM_A = {"test_gateway_schemathesis.py", "test_console_public.py", "test_console_roles.py",
               "test_console_trust.py", "test_demo.py", "test_gateway_instances.py",
               "test_gateway_metrics.py", "test_gateway_observability.py",
               "test_gateway_security.py", "test_gateway_security_headers.py",
               "test_gateway_slow_clients.py", "test_compose.py"}
_ORDER = {"faults": 0, "platform-a": 1, "platform-b": 2}


def _group(path: Path) -> str | None:
    if _TESTS not in path.parents:
        return None
    if path.parent.name == "faults":
        return "faults"  # each with servers of its own
    return "platform-a" if path.name in _PLATFORM_A else "platform-b"


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Three long groups, each kept on one worker, scheduled first; the service suites' short
    tests are balanced around them test by test. Without xdist the marks change nothing but the
    order (the cross-service tests first, then the service suites)."""
    groups = {id(item): _group(Path(item.path)) for item in items}
    for item in items:
        if groups[id(item)]:
            item.add_marker(pytest.mark.xdist_group(groups[id(item)]))
    # a stable sort: within a group, and among the rest, collection order stays
    items.sort(key=lambda item: _ORDER.get(groups[id(item)] or "", len(_ORDER)))
