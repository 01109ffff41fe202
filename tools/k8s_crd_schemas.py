"""Regenerates deploy/k8s/schemas/: the openAPIV3Schema of each custom resource deploy/k8s uses,
so tests/test_k8s_manifests.py validates them offline.

    uv run python tools/k8s_crd_schemas.py

Sources (package registries only):
- CloudNativePG: its Go module zip from the Go module proxy (config/crd/bases/*.yaml);
- KEDA: likewise (github.com/kedacore/keda/v2, config/crd/bases/*.yaml);
- Strimzi: no CRD files are published on a registry, so the jars of io.strimzi:api and
  io.strimzi:crd-generator come from Maven Central (deploy/k8s/schemas/strimzi-crd-pom.xml) and
  CrdGenerator writes the CRDs with the arguments of Strimzi's own api/pom.xml. It needs Java 21+
  (TANHUI_JAVA, else the newest JDK under /usr/lib/jvm, else `java`).
"""
from __future__ import annotations

import io
import json
import os
import subprocess
import sys
import tempfile
import urllib.request
import zipfile
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "deploy" / "k8s" / "schemas"
CNPG_VERSION = "v1.28.1"
KEDA_VERSION = "v2.21.0"
STRIMZI_VERSION = "1.2.0"  # also in strimzi-crd-pom.xml
GO_PROXY = "https://proxy.golang.org"
CNPG_CRDS = ("clusters", "poolers", "scheduledbackups")
KEDA_CRDS = ("scaledobjects", "triggerauthentications")
STRIMZI_CRDS = {"kafka.Kafka": "kafka", "topic.KafkaTopic": "kafkatopic",
                "user.KafkaUser": "kafkauser", "nodepool.KafkaNodePool": "kafkanodepool"}


def _go_module_crds(module: str, version: str, names: tuple[str, ...], group: str) -> list[dict]:
    url = f"{GO_PROXY}/{module}/@v/{version}.zip"
    with urllib.request.urlopen(url, timeout=120) as response:  # noqa: S310 - fixed registry URL
        archive = zipfile.ZipFile(io.BytesIO(response.read()))
    prefix = f"{module}@{version}/config/crd/bases/{group}_"
    return [yaml.safe_load(archive.read(f"{prefix}{name}.yaml")) for name in names]


def _java() -> str:
    if os.environ.get("TANHUI_JAVA"):
        return os.environ["TANHUI_JAVA"]
    found = {}
    for release in Path("/usr/lib/jvm").glob("*/release"):  # JAVA_VERSION="25.0.1"
        for line in release.read_text().splitlines():
            if line.startswith("JAVA_VERSION="):
                found[int(line.split("=")[1].strip('"').split(".")[0])] = release.parent / "bin/java"
    return str(found[max(found)]) if found else "java"


def _strimzi_crds() -> list[dict]:
    with tempfile.TemporaryDirectory() as tmp:
        libs, out = Path(tmp) / "libs", Path(tmp) / "out"
        out.mkdir()
        subprocess.run(["mvn", "-q", "-f", str(OUT / "strimzi-crd-pom.xml"),
                        f"-Dstrimzi.version={STRIMZI_VERSION}", "dependency:copy-dependencies",
                        f"-DoutputDirectory={libs}"], check=True)
        subprocess.run([_java(), "-cp", f"{libs}/*", "io.strimzi.crdgenerator.CrdGenerator",
                        "--label", "app:strimzi", "--label", "strimzi.io/crd-install:true",
                        "--target-kube", "1.16+", "--crd-api-version", "v1", "--api-versions", "v1",
                        "--storage-version", "v1", "--yaml",
                        *[f"io.strimzi.api.kafka.model.{cls}={out / name}.yaml"
                          for cls, name in STRIMZI_CRDS.items()]], check=True)
        return [yaml.safe_load((out / f"{name}.yaml").read_text()) for name in STRIMZI_CRDS.values()]


def _strip_descriptions(node):
    """Descriptions are most of a CRD's bytes and no part of validation. Only string-valued
    `description` keys go: a property *named* description has a schema (a dict) as its value."""
    if isinstance(node, dict):
        return {k: _strip_descriptions(v) for k, v in node.items()
                if not (k == "description" and isinstance(v, str))}
    if isinstance(node, list):
        return [_strip_descriptions(v) for v in node]
    return node


def write(crd: dict, source: str) -> Path:
    spec = crd["spec"]
    kind, group = spec["names"]["kind"], spec["group"]
    schemas = {v["name"]: _strip_descriptions(v["schema"]["openAPIV3Schema"]) for v in spec["versions"]}
    path = OUT / group / f"{kind}.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps({"source": source, "group": group, "kind": kind, "versions": schemas},
                               sort_keys=True, separators=(",", ":")) + "\n")
    return path


def main() -> None:
    made = [write(c, f"cloudnative-pg {CNPG_VERSION}") for c in _go_module_crds(
        "github.com/cloudnative-pg/cloudnative-pg", CNPG_VERSION, CNPG_CRDS, "postgresql.cnpg.io")]
    made += [write(c, f"keda {KEDA_VERSION}") for c in _go_module_crds(
        "github.com/kedacore/keda/v2", KEDA_VERSION, KEDA_CRDS, "keda.sh")]
    made += [write(c, f"strimzi {STRIMZI_VERSION}") for c in _strimzi_crds()]
    for path in made:
        print(f"wrote {path.relative_to(ROOT)} ({path.stat().st_size} bytes)", file=sys.stderr)


if __name__ == "__main__":
    main()
