"""The sandbox: student code runs in its own process, limited, and cannot change a verdict."""

from pathlib import Path

import pytest
import torch

from genbench.teaching.sandbox import Limits, Sandbox, StudentError

HOSTILE = """
import os
import torch

def add(a, b):
    print("prints go to the log, not the protocol")
    return a + b

def spin():
    while True:
        pass

def hoard():
    return torch.empty(10**11)

def peek():
    return open("/etc/hostname").read()

def detached(a):
    return a.detach() * 2

def crash():
    os._exit(3)
"""
CONFIG = {"student_file": "attention.py", "banned_callables": [], "forbidden_modules": []}


@pytest.fixture(scope="module")
def sandbox(tmp_path_factory):
    folder = tmp_path_factory.mktemp("submission")
    (folder / "attention.py").write_text(HOSTILE)
    with Sandbox(Path(folder), CONFIG, Limits(call_seconds=3)) as box:
        yield box


def test_values_and_gradients_come_back_as_tensors(sandbox):
    a, b = torch.randn(4, dtype=torch.float64), torch.randn(4, dtype=torch.float64)
    assert torch.equal(sandbox.call("add", a, b), a + b)
    _, (ga, gb) = sandbox.call("add", a, b, grad={"wrt": [a, b], "cotangents": [2 * b]})
    assert torch.equal(ga, 2 * b) and torch.equal(gb, 2 * b)
    _, (g,) = sandbox.call("detached", a, grad={"wrt": [a], "cotangents": [a]})
    assert g is None  # no gradient reaches a detached input


@pytest.mark.parametrize(
    ("fn", "kind", "words"),
    [
        ("spin", "timeout", "within 3 s"),
        ("hoard", "RuntimeError", "allocate"),
        ("peek", "PermissionError", "/etc/hostname"),
        ("crash", "crash", "exit code 3"),
        ("missing", "AttributeError", "not defined"),
    ],
)
def test_every_failure_is_stopped_and_named_and_the_next_call_works(sandbox, fn, kind, words):
    with pytest.raises(StudentError) as caught:
        sandbox.call(fn)
    assert caught.value.kind == kind and words in caught.value.message
    assert torch.equal(sandbox.call("add", torch.ones(1), torch.ones(1)), torch.full((1,), 2.0))


def test_reading_outside_the_folder_is_recorded_as_a_violation(sandbox):
    with pytest.raises(StudentError):
        sandbox.call("peek")
    assert any("/etc/hostname" in v for v in sandbox.violations)


def test_a_syntax_error_is_a_load_error_not_a_crash_of_the_grader(tmp_path):
    (tmp_path / "attention.py").write_text("def f(:\n")
    with Sandbox(tmp_path, CONFIG) as box, pytest.raises(StudentError) as caught:
        box.call("f")
    assert caught.value.kind == "SyntaxError"
