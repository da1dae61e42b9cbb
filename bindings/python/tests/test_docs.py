"""Every public name of the package documents itself, and ``python -m pydoc gaze`` reads well."""

import inspect
import pydoc
import subprocess
import sys

import gaze


def _public_names():
    return sorted(n for n in dir(gaze) if not n.startswith("_"))


def _members(cls):
    for name, member in inspect.getmembers(cls):
        if name.startswith("_"):
            continue
        yield name, member


def test_module_has_docstring():
    assert gaze.__doc__ and "gaze" in gaze.__doc__


def test_every_public_name_has_a_docstring():
    missing = []
    for name in _public_names():
        obj = getattr(gaze, name)
        if isinstance(obj, (str, int, float)):
            continue  # constants such as __version__-like values
        if not (getattr(obj, "__doc__", None) or "").strip():
            missing.append(name)
    assert not missing, f"public names without a docstring: {missing}"


def test_every_public_method_and_attribute_has_a_docstring():
    missing = []
    for name in _public_names():
        cls = getattr(gaze, name)
        if not inspect.isclass(cls) or issubclass(cls, BaseException):
            continue
        for member_name, member in _members(cls):
            if isinstance(member, (int, float, str, bool)) or type(member) is cls:
                continue  # enum-like class attributes are instances, documented by the class
            doc = getattr(member, "__doc__", None) or ""
            # A member inheriting `object`'s or `int`'s doc says nothing about gaze.
            inherited = any(
                getattr(getattr(base, member_name, None), "__doc__", None) == doc
                for base in (object, int, float, str)
            )
            if not doc.strip() or inherited:
                missing.append(f"{name}.{member_name}")
    assert not missing, f"public members without a docstring: {missing}"


def test_pydoc_renders_the_package():
    text = pydoc.render_doc(gaze, renderer=pydoc.plaintext)
    for name in ("Tracker", "Session", "classify_trace", "Calibration"):
        assert name in text
    out = subprocess.run(
        [sys.executable, "-m", "pydoc", "gaze"], capture_output=True, text=True, check=True
    ).stdout
    assert "Tracker" in out and "process" in out
