pytest_plugins = ["tanhui_shared.testing.fixtures"]

# Files that take a minute or more (make test's --durations=15), started first: with --dist
# loadfile each worker takes whole files in collection order, and test_worker_metrics.py,
# collected last, kept one worker busy for ~2 minutes after the other had run out of files.
LONG_FILES = (
    "tests/test_worker_metrics.py",
    "tests/test_gateway_schemathesis.py",
    "tests/faults/test_broker_restart.py",
    "tests/faults/test_worker_probes.py",
    "tests/faults/test_scale_out.py",
    "tests/test_console_journeys_b.py",
    "tests/test_console_journeys_a.py",
)


def pytest_collection_modifyitems(session, config, items) -> None:  # noqa: ANN001, ARG001
    rank = {path: n for n, path in enumerate(LONG_FILES)}
    # a stable sort: every other file, and the tests within each file, keep their order
    items.sort(key=lambda item: rank.get(item.nodeid.split("::", 1)[0], len(LONG_FILES)))
