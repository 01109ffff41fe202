"""What `docker compose up` depends on at run time, tested without a Docker engine: the key keygen
writes is readable by the services' uid, Kafka's data lands on its volume, every HTTP process has
a working healthcheck, the image is built dependencies first without tests or keys, and the
versions are the ones deploy/ runs (so `make test` proves them)."""
from __future__ import annotations

import os
import re
import shutil
import stat
import subprocess
import sys
import tempfile
import threading
import traceback
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import yaml

from tanhui_shared.settings import REPO_ROOT

COMPOSE = yaml.safe_load((REPO_ROOT / "docker-compose.yml").read_text())["services"]
DOCKERFILE = (REPO_ROOT / "Dockerfile").read_text()
SERVICE_UID = 10001


def _dockerfile_user() -> int:
    return int(re.findall(r"^USER (\d+)$", DOCKERFILE, re.M)[-1])


def test_keygen_run_as_the_service_uid_writes_a_key_that_uid_can_read():
    """The image's user writes the key (0600) and reads it back, as every service does."""
    # pytest's tmp_path sits under a root-only directory: the service uid needs a path it can reach
    tmp_path = Path(tempfile.mkdtemp(prefix="tanhui-keygen-"))
    assert "user" not in COMPOSE["keygen"], "keygen must run as the image's user, not root"
    assert _dockerfile_user() == SERVICE_UID
    assert "chown tanhui:tanhui /keys" in DOCKERFILE  # a new `keys` volume takes this ownership
    keys = tmp_path / "keys"
    keys.mkdir()
    as_root = os.geteuid() == 0
    if as_root:
        os.chown(keys, SERVICE_UID, SERVICE_UID)
    tmp_path.chmod(0o755)
    key = keys / "jwt-signing-key.pem"
    pid = os.fork()
    if pid == 0:  # the child becomes uid 10001 (Python is already loaded), as in the container
        code = 1
        try:
            from tanhui_accounts.security import SigningKey, write_new_signing_key

            if as_root:
                os.setgid(SERVICE_UID)
                os.setuid(SERVICE_UID)
            write_new_signing_key(key)
            SigningKey.from_pem(key.read_bytes())  # what the accounts API does at start
            code = 0
        except BaseException:  # noqa: BLE001 - report it from the child, the parent sees only 1
            traceback.print_exc()
        finally:
            os._exit(code)
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0, "the service uid could not write or read its key"
    info = key.stat()
    assert stat.S_IMODE(info.st_mode) == 0o600
    assert info.st_uid == (SERVICE_UID if as_root else os.geteuid())
    shutil.rmtree(tmp_path)


def test_kafka_keeps_its_log_directory_on_its_volume():
    kafka = COMPOSE["kafka"]
    var = kafka["environment"]["TANHUI_VAR"]
    mounts = {v.split(":")[1]: v.split(":")[0] for v in kafka["volumes"]}
    assert mounts.get(var) == "kafka-data", "TANHUI_VAR must be the kafka-data volume's mount"
    script = (REPO_ROOT / "deploy" / "kafka" / "kafka.sh").read_text()
    template = (REPO_ROOT / "deploy" / "kafka" / "server.properties.template").read_text()
    assert "DATA=$TANHUI_VAR/kafka" in script
    log_dirs = re.search(r"^log\.dirs=(.+)$", template, re.M).group(1)
    assert log_dirs.replace("@DATA@", f"{var}/kafka").startswith(var + "/")


class _Answers(BaseHTTPRequestHandler):
    def do_GET(self):  # noqa: N802 - the http.server hook
        self.send_response(200 if self.path == "/healthz" else 503)
        self.end_headers()

    def log_message(self, *args):  # quiet
        pass


def test_every_http_process_has_a_healthcheck_that_tells_up_from_down():
    probes = {}
    for name, service in COMPOSE.items():
        command = service.get("command") or []
        serves_http = command[:1] == ["uvicorn"] or command[2:3] == ["tanhui_gateway"]
        if serves_http:
            test = service["healthcheck"]["test"]
            port = command[command.index("--port") + 1]
            assert test[:4] == ["CMD", "python", "-m", "tanhui_shared.probe"], name
            assert test[4] == f"http://127.0.0.1:{port}/healthz", name
            probes[name] = test[4]
    assert set(probes) == {"accounts", "verification", "credits", "gateway"}
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Answers)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    base = f"http://127.0.0.1:{server.server_port}"
    probe = [sys.executable, "-m", "tanhui_shared.probe"]
    try:
        assert subprocess.run([*probe, f"{base}/healthz"], timeout=30).returncode == 0
        assert subprocess.run([*probe, f"{base}/readyz"], timeout=30).returncode == 1  # 503
    finally:
        server.shutdown()
    server.server_close()
    assert subprocess.run([*probe, f"{base}/healthz"], timeout=30).returncode == 1  # nobody there
    gateway_deps = COMPOSE["gateway"]["depends_on"]
    assert all(gateway_deps[s]["condition"] == "service_healthy" for s in ("accounts", "verification", "credits"))


def test_the_image_installs_dependencies_before_the_code_and_ships_no_tests_or_keys():
    lines = [line for line in DOCKERFILE.splitlines() if line and not line.startswith("#")]
    deps = next(i for i, line in enumerate(lines) if "--no-install-workspace" in line)
    first_code = next(i for i, line in enumerate(lines) if line.startswith(("COPY libs libs", "COPY services services")))
    assert deps < first_code, "the dependency layer must come before the source"
    assert not any(line.startswith("COPY . ") for line in lines)
    ignored = set((REPO_ROOT / ".dockerignore").read_text().split())
    assert {"tests", "**/tests", "*.pem", "bench", "docs", ".var", ".venv"} <= ignored
    # the certificate font the credits service embeds by default
    from tanhui_credits.settings import CreditsSettings

    assert "fonts-wqy-microhei" in DOCKERFILE
    assert CreditsSettings.model_fields["certificate_font_path"].default == \
        "/usr/share/fonts/truetype/wqy/wqy-microhei.ttc"


def test_every_long_running_process_of_make_up_runs_in_compose():
    commands = [" ".join(s.get("command") or []) for s in COMPOSE.values()]
    assert any("tanhui_accounts.cli expire-points" in c for c in commands), "the points-expiry job"
    for svc in ("accounts", "verification", "credits"):
        assert any(c == f"python -m tanhui_{svc}.relay" for c in commands)
        assert any(c == f"python -m tanhui_{svc}.consumer" for c in commands)
        assert any(c == f"python -m tanhui_shared.messaging.retention {svc} --every 3600" for c in commands)


def test_compose_runs_the_versions_deploy_runs():
    pom = (REPO_ROOT / "deploy" / "kafka" / "pom.xml").read_text()
    kafka_version = re.search(r"<kafka\.version>([\d.]+)</kafka\.version>", pom).group(1)
    assert COMPOSE["kafka"]["image"] == f"apache/kafka:{kafka_version}"
    postgres_sh = (REPO_ROOT / "deploy" / "postgres.sh").read_text()
    pg_major = re.search(r"/usr/lib/postgresql/(\d+)/bin", postgres_sh).group(1)
    assert COMPOSE["postgres"]["image"] == f"postgres:{pg_major}"


def test_production_settings_that_have_no_safe_default_are_required():
    credits = COMPOSE["credits"]["environment"]
    assert credits["TANHUI_PUBLIC_BASE_URL"].startswith("${TANHUI_PUBLIC_BASE_URL:?")
    gateway_ports = COMPOSE["gateway"]["ports"]
    assert len(gateway_ports) == 1 and re.search(r"\d+-\d+}?:8000$", gateway_ports[0]), \
        "a port range, so the gateway can be scaled"

