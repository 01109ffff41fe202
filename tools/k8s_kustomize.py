"""The part of Kustomize deploy/k8s uses, so the tests render it without kubectl.

    uv run python tools/k8s_kustomize.py deploy/k8s/overlays/production   # prints the YAML

Supported kustomization fields (anything else is refused, so a new field is not ignored
silently): `resources` (files and directories with a kustomization), `namespace`, `labels`
(pairs, without selectors or templates), `images` (newName/newTag) and `patches` that name a
file holding a strategic-merge patch. The merge follows Kubernetes' rules for what deploy/k8s
patches: maps merge key by key, lists of named items (containers, env, volumes) merge by `name`,
every other list is replaced. What `kubectl kustomize` renders of deploy/k8s is the same; the
README says how to compare.
"""
from __future__ import annotations

import copy
import sys
from pathlib import Path

import yaml

KNOWN = {"apiVersion", "kind", "resources", "namespace", "labels", "images", "patches"}
# Kinds deploy/k8s uses that live outside any namespace.
CLUSTER_SCOPED = {"Namespace", "ClusterRole", "ClusterRoleBinding", "CustomResourceDefinition",
                  "StorageClass", "PersistentVolume", "IngressClass"}


def _identity(doc: dict) -> tuple[str, str]:
    return doc["kind"], doc["metadata"]["name"]


def merge(base, patch):
    """A strategic-merge patch of `base` (a copy is returned)."""
    if isinstance(base, dict) and isinstance(patch, dict):
        merged = copy.deepcopy(base)
        for key, value in patch.items():
            merged[key] = merge(base[key], value) if key in base else copy.deepcopy(value)
        return merged
    if (isinstance(base, list) and isinstance(patch, list)
            and all(isinstance(i, dict) and "name" in i for i in base + patch)):
        merged = [copy.deepcopy(i) for i in base]
        index = {item["name"]: n for n, item in enumerate(merged)}
        for item in patch:
            if item["name"] in index:
                merged[index[item["name"]]] = merge(merged[index[item["name"]]], item)
            else:
                merged.append(copy.deepcopy(item))
        return merged
    return copy.deepcopy(patch)


def _load(path: Path) -> list[dict]:
    return [d for d in yaml.safe_load_all(path.read_text()) if d]


def _containers(doc: dict) -> list[dict]:
    spec = doc.get("spec", {})
    template = spec.get("jobTemplate", {}).get("spec", {}).get("template") or spec.get("template") or {}
    pod = template.get("spec", {})
    return pod.get("containers", []) + pod.get("initContainers", [])


def _image_name(ref: str) -> str:
    """`registry:5000/team/app:1.2@sha256:...` -> `registry:5000/team/app` (a port is no tag)."""
    head, _, last = ref.split("@")[0].rpartition("/")
    return f"{head}/{last.split(':')[0]}" if head else last.split(":")[0]


def _set_image(doc: dict, images: list[dict]) -> None:
    for box in _containers(doc):
        name = _image_name(box.get("image", ""))
        for image in images:
            if image["name"] == name:
                new = image.get("newName", name)
                box["image"] = f"{new}:{image['newTag']}" if "newTag" in image else new


def build(directory: Path) -> list[dict]:
    """The resources `kubectl kustomize directory` would print, in order."""
    directory = Path(directory)
    kust = yaml.safe_load((directory / "kustomization.yaml").read_text())
    unknown = set(kust) - KNOWN
    if unknown:
        raise ValueError(f"{directory}: kustomization fields not supported here: {sorted(unknown)}")
    docs: list[dict] = []
    for entry in kust.get("resources", []):
        target = directory / entry
        docs += build(target) if target.is_dir() else _load(target)
    seen = [_identity(d) for d in docs]
    if len(seen) != len(set(seen)):
        raise ValueError(f"{directory}: a resource is defined twice: {sorted(seen)}")
    for patch in kust.get("patches", []):
        if set(patch) != {"path"}:
            raise ValueError(f"{directory}: only `patches: - path: file` is supported, not {patch}")
        for change in _load(directory / patch["path"]):
            hits = [n for n, d in enumerate(docs) if _identity(d) == _identity(change)]
            if len(hits) != 1:
                raise ValueError(f"{directory}/{patch['path']}: no resource {_identity(change)} to patch")
            docs[hits[0]] = merge(docs[hits[0]], change)
    for doc in docs:
        if "namespace" in kust and doc["kind"] not in CLUSTER_SCOPED:
            doc["metadata"]["namespace"] = kust["namespace"]
        for group in kust.get("labels", []):
            if group.get("includeSelectors") or group.get("includeTemplates"):
                raise ValueError(f"{directory}: labels into selectors or templates are not supported")
            doc["metadata"].setdefault("labels", {}).update(group["pairs"])
        _set_image(doc, kust.get("images", []))
    return docs


if __name__ == "__main__":
    print(yaml.safe_dump_all(build(Path(sys.argv[1])), sort_keys=False), end="")
