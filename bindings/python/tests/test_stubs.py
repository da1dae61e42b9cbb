"""The type stubs and docstrings match the native module."""

import ast
import inspect
from pathlib import Path

import gaze

STUB = Path(__file__).resolve().parents[1] / "python" / "gaze" / "__init__.pyi"


def stub_tree():
    return ast.parse(STUB.read_text())


def test_every_public_name_has_a_stub_and_vice_versa():
    tree = stub_tree()
    stubbed = {n.name for n in tree.body if isinstance(n, (ast.ClassDef, ast.FunctionDef))}
    public = {n for n in dir(gaze._gaze) if not n.startswith("_")}
    assert stubbed == public


def test_stub_members_exist_and_are_documented():
    for node in stub_tree().body:
        if not isinstance(node, ast.ClassDef):
            continue
        cls = getattr(gaze, node.name)
        assert inspect.getdoc(cls), node.name
        members = {
            n.name for n in node.body if isinstance(n, ast.FunctionDef) and not n.name.startswith("__")
        } | {n.target.id for n in node.body if isinstance(n, ast.AnnAssign)}
        for m in members:
            assert hasattr(cls, m), f"{node.name}.{m} in the stub but not in the module"
            assert inspect.getdoc(getattr(cls, m)), f"{node.name}.{m} has no docstring"
        actual = {m for m in dir(cls) if not m.startswith("_")}
        assert actual <= members, f"{node.name}: not in the stub: {actual - members}"


def test_package_ships_py_typed():
    assert (Path(gaze.__file__).parent / "py.typed").exists()
