"""tools/k8s_kustomize.py is a subset of Kustomize, written so `make test` validates the manifests
offline. Where a real Kustomize is at hand (`kubectl kustomize`, or `kustomize`), both must render
the same resources, so the subset cannot drift from what an operator's `kubectl apply -k` does."""
from __future__ import annotations

import shutil
import subprocess
import sys

import pytest
import yaml

from tanhui_shared.settings import REPO_ROOT

sys.path.insert(0, str(REPO_ROOT / "tools"))
import k8s_kustomize  # noqa: E402

K8S = REPO_ROOT / "deploy" / "k8s"


def _real_kustomize() -> list[str] | None:
    if shutil.which("kustomize"):
        return ["kustomize", "build"]
    if shutil.which("kubectl"):
        return ["kubectl", "kustomize"]
    return None


def _identity(doc: dict) -> tuple[str, str, str]:
    meta = doc["metadata"]
    return doc["kind"], meta.get("namespace", ""), meta["name"]


@pytest.mark.parametrize("where", ["base", "overlays/production"])
def test_the_subset_renders_what_kustomize_renders(where):
    command = _real_kustomize()
    if command is None:
        pytest.skip("neither kustomize nor kubectl is installed: the offline subset is all we have")
    done = subprocess.run([*command, str(K8S / where)], capture_output=True, text=True,
                          timeout=120)
    assert done.returncode == 0, done.stderr
    real = {_identity(d): d for d in yaml.safe_load_all(done.stdout) if d}
    ours = {_identity(d): d for d in k8s_kustomize.build(K8S / where)}
    assert sorted(real) == sorted(ours)
    differing = [key for key in real if real[key] != ours[key]]
    assert not differing, f"rendered differently by Kustomize: {differing[:5]}"
