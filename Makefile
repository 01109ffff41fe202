# tanhui: the two commands that matter are `make up` and `make test` (see README.md).
SHELL := /bin/bash
UV ?= $(shell command -v uv 2>/dev/null || echo "python3 -m uv")
TEST_WORKERS ?= 2

.PHONY: up test test-kafka-acls install infra-up infra-down down unit bench

install:  ## the Python workspace, exactly as locked
	@command -v uv >/dev/null 2>&1 || python3 -m uv --version >/dev/null 2>&1 || { \
	  echo "[tanhui] installing uv (the workspace tool) from PyPI..."; python3 -m pip install -q uv==0.13.8; }
	@echo "[tanhui] syncing the workspace from uv.lock..."
	@$(UV) sync --frozen --quiet
	@# Bytecode ahead of time: where PYTHONDONTWRITEBYTECODE is set (it is on CI), no process ever
	@# writes its .pyc files, so each of the dozens a test run starts would compile every import
	@# (fastapi, pydantic, sqlalchemy...) from source again: seconds of CPU per process start.
	@[ .venv/.tanhui-bytecode -nt uv.lock ] || { echo "[tanhui] compiling the dependencies' bytecode (once per lock)..."; \
	  $(UV) run --frozen python -m compileall -q -j 0 .venv/lib >/dev/null || true; touch .venv/.tanhui-bytecode; }
	@$(UV) run --frozen python -m compileall -q -j 0 libs services gateway tools tests bench >/dev/null || true

up: install  ## the whole platform on local PostgreSQL, Kafka and Redis from deploy/; Ctrl-C stops it
	@deploy/system-packages.sh up
	@$(UV) run --frozen python -m tanhui_shared.devstack up

test: install  ## every test; provisions Kafka, PostgreSQL and Redis locally (deploy/infra.sh)
	@deploy/system-packages.sh test
	@# started here, with its progress on the terminal
	@docker info >/dev/null 2>&1 || deploy/infra.sh up
	@# two processes, each whole test file on one of them (a file's fixtures, e.g. its platform,
	@# are set up once); TEST_WORKERS=0 runs everything in this one process
	@$(UV) run --frozen pytest -n $(TEST_WORKERS) --dist loadfile --durations=15

test-kafka-acls: install  ## the production Kafka ACLs on a secured broker of its own (~80 s; not in `make test`)
	@deploy/system-packages.sh test
	@TANHUI_TEST_KAFKA_ACLS=1 $(UV) run --frozen pytest tests/faults/test_kafka_acls.py

unit: install  ## only the tests that need no server
	@$(UV) run --frozen pytest -m "not infra" libs/tanhui-shared/tests/test_contracts.py gateway/tests

bench: install  ## benchmarks on local PostgreSQL; figures go to bench/results/
	@deploy/infra.sh up
	@eval "$$(deploy/infra.sh env)" && for b in bench/trip_ingestion.py bench/retirements.py bench/gateway_proxy.py bench/tracing_overhead.py bench/backbone.py bench/city_scale.py; do $(UV) run --frozen python $$b || exit 1; done
	@$(UV) run --frozen python bench/report.py

infra-up:
	@deploy/infra.sh up

infra-down down:  ## stop the servers `make up` and `make test` start (data kept in .var/)
	@deploy/infra.sh down

.PHONY: demo console-shots

demo: install  ## seed the running platform (`make up` elsewhere) with a Nanchong scenario; GATEWAY=url
	@$(UV) run --frozen python tools/demo.py $(GATEWAY)

console-shots: install  ## the README's console screenshots into docs/screenshots/ (runs the browser tests)
	@deploy/system-packages.sh test
	@TANHUI_CONSOLE_SHOTS=docs/screenshots $(UV) run --frozen pytest -q tests/test_console_roles.py tests/test_console_journeys_a.py tests/test_console_public.py
