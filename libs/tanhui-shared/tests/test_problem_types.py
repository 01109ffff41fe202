"""Every problem code a process can answer with is in the catalogue, titled in both languages, and
no refusal a user meets falls back to a generic code. Read from the source (AST), so a raise that
no test reaches is checked too."""
from __future__ import annotations

import ast
import importlib
import re
from pathlib import Path

import pytest

from tanhui_shared.errors import Conflict, constraint_conflict, describe_constraints
from tanhui_shared.web.problem_types import BY_STATUS, PROBLEM_TYPES, type_uri

ROOT = Path(__file__).resolve().parents[3]
SOURCES = sorted([*ROOT.glob("services/*/src/**/*.py"), *ROOT.glob("gateway/src/**/*.py"),
                  *ROOT.glob("libs/*/src/**/*.py")])
BASES = ROOT / "libs/tanhui-shared/src/tanhui_shared/errors.py"  # where the generic ones are
GENERIC = {"DomainError", "Conflict", "Invalid", "NotFound", "Forbidden"}
# calls whose `code=` is a problem code: the typed errors, and the web layer's own answers
CODED_CALLS = GENERIC | {"Problem", "Refusal", "problem_response"}
KEBAB = re.compile(r"^[a-z][a-z0-9]*(-[a-z0-9]+)*$")
CJK = re.compile(r"[\u4e00-\u9fff]")
CONSTRAINT_MODULES = ("tanhui_accounts.store.constraints", "tanhui_verification.store.constraints",
                      "tanhui_credits.store.constraints")


def _name(func: ast.expr) -> str | None:
    return func.id if isinstance(func, ast.Name) else (
        func.attr if isinstance(func, ast.Attribute) else None)


def _scan() -> tuple[dict[str, list[str]], list[str]]:
    """(code -> where it is used, raise sites of a generic class without a code)."""
    used: dict[str, list[str]] = {}
    uncoded: list[str] = []
    for path in SOURCES:
        tree = ast.parse(path.read_text(), filename=str(path))
        where = lambda node: f"{path.relative_to(ROOT)}:{node.lineno}"  # noqa: E731
        for node in ast.walk(tree):
            if isinstance(node, ast.Call) and _name(node.func) in CODED_CALLS:
                code = next((k.value for k in node.keywords if k.arg == "code"), None)
                if isinstance(code, ast.Constant):
                    used.setdefault(code.value, []).append(where(node))
                elif code is None and _name(node.func) in GENERIC:
                    uncoded.append(where(node))
            elif isinstance(node, ast.ClassDef) and path != BASES:
                bases = {_name(b) for b in node.bases}
                codes = [s.value.value for s in node.body
                         if isinstance(s, ast.Assign) and isinstance(s.value, ast.Constant)
                         and any(isinstance(t, ast.Name) and t.id == "code" for t in s.targets)]
                if bases & GENERIC and not codes:
                    uncoded.append(f"class {node.name} at {where(node)}")
                for code in codes:
                    used.setdefault(code, []).append(where(node))
    return used, uncoded


def test_every_problem_code_in_the_source_is_in_the_catalogue():
    used, _ = _scan()
    assert len(used) > 60  # the scan sees the services, not an empty tree
    missing = {code: sites for code, sites in used.items() if code not in PROBLEM_TYPES}
    assert not missing, f"add these codes to problem_types._TABLE: {missing}"


def test_no_user_facing_refusal_uses_a_generic_code():
    used, uncoded = _scan()
    assert not uncoded, f"give these a specific code=: {uncoded}"
    generic = {"domain-error", "conflict", "invalid", "not-found", "forbidden"}
    assert not generic & set(used), {c: used[c] for c in generic & set(used)}
    assert not generic & set(PROBLEM_TYPES)


@pytest.mark.parametrize("module", CONSTRAINT_MODULES)
def test_constraint_codes_are_in_the_catalogue(module):
    importlib.import_module(module)  # registers its constraints
    from tanhui_shared.errors import _CONSTRAINTS

    for name in _CONSTRAINTS:
        assert constraint_conflict(name).code in PROBLEM_TYPES, name


def test_a_constraint_gets_its_registered_code_or_its_kind():
    describe_constraints({"uq_test_thing": ("taken", "name", "username-taken"),
                          "ck_test_thing": ("broken", None)})
    taken = constraint_conflict("uq_test_thing")
    assert (taken.code, taken.field, taken.detail) == ("username-taken", "name", "taken")
    assert constraint_conflict("ck_test_thing").code == "record-rule"
    assert constraint_conflict("ex_nobody_registered").code == "record-overlaps"
    assert constraint_conflict("thing_owner_fkey").code == "reference-missing"
    assert constraint_conflict("thing_pkey").code == "record-exists"
    assert isinstance(constraint_conflict(None), Conflict)
    assert constraint_conflict(None).code == "constraint-violation"


def test_each_entry_is_complete_in_both_languages():
    for code, problem in PROBLEM_TYPES.items():
        assert KEBAB.match(code), code
        assert 400 <= problem.status <= 599, code
        assert problem.title_en.endswith((".", "!")) and len(problem.title_en) > 10, code
        assert CJK.search(problem.title_zh) and problem.title_zh.endswith("。"), code
        assert problem.uri == type_uri(code) == f"/problems/{code}"
    assert set(BY_STATUS.values()) <= set(PROBLEM_TYPES)
