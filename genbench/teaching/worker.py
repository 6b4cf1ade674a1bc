"""The sandboxed worker: the only process that runs a student's code.

It is copied into a fresh job folder and started there by genbench/teaching/sandbox.py, under
resource limits (and, when the grader is root, as an unprivileged user in its own network
namespace). It imports nothing of genbench. It loads the student file, then answers calls from
the grader, one JSON line each way: the grader names a function and its arguments, the tensors
travel in safetensors files, the outputs go back the same way. Never pickle. The grader
compares and scores in its own process, so nothing here can change a check's verdict.

Tripwires: an audit hook refuses to open files outside the job folder and Python's own
installation, and to import modules the assignment bans; banned functions are replaced by
stubs that refuse to run. Each refusal is reported with the call that caused it.
"""

from __future__ import annotations

import json
import os
import socket
import sys
import time
import traceback
import types

import torch  # imported before the hook: its own files are read here
from safetensors.torch import load_file, save_file

JOB = os.path.abspath(sys.argv[1])
CONFIG = json.loads(sys.argv[2])  # student_file, banned_callables, forbidden_modules
violations: list[str] = []


def _roots() -> list[str]:
    """Folders a student's code may read: the job folder and Python's installation."""
    roots = [JOB, sys.prefix, sys.base_prefix, "/dev/null", "/dev/urandom", "/proc/self", "/sys"]
    roots += [p for p in sys.path if "site-packages" in p or "dist-packages" in p]
    return [os.path.realpath(r) for r in roots]


ROOTS = _roots()
FORBIDDEN_MODULES = tuple(CONFIG.get("forbidden_modules", []))


def _audit(event: str, args: tuple) -> None:
    if event == "open" and isinstance(args[0], str):
        path = os.path.realpath(args[0])
        if not any(path == r or path.startswith(r + os.sep) for r in ROOTS):
            violations.append(f"opened a file outside its folder: {args[0]}")
            raise PermissionError(f"the sandbox does not allow reading {args[0]}")
    elif event == "import" and args[0].startswith(FORBIDDEN_MODULES):
        violations.append(f"imported {args[0]}, which this assignment bans")
        raise ImportError(f"{args[0]} is banned in this assignment")


def _tripwire(dotted: str) -> None:
    """Replace a banned callable (e.g. torch.nn.functional.scaled_dot_product_attention) by a
    stub that records the call and refuses."""
    owner_path, _, name = dotted.rpartition(".")
    owner = sys.modules.get(owner_path)
    if owner is None or not hasattr(owner, name):
        return

    def banned(*args, **kwargs):
        violations.append(f"called {dotted}, which this assignment bans")
        raise RuntimeError(f"{dotted} is banned in this assignment")

    setattr(owner, name, banned)


def _load_student() -> types.ModuleType:
    path = os.path.join(JOB, "student", CONFIG["student_file"])
    module = types.ModuleType(CONFIG["student_file"].removesuffix(".py"))
    module.__file__ = path
    sys.modules[module.__name__] = module
    sys.path.insert(0, os.path.dirname(path))  # a submission may import its own helper files
    with open(path) as f:
        source = f.read()
    exec(compile(source, path, "exec"), module.__dict__)
    return module


def _decode(value, tensors: dict, wrt: set[str]):
    """A JSON argument -> a Python value: tensors by key, tuples, plain values, critics."""
    if "t" in value:
        tensor = tensors[value["t"]]
        return tensor.requires_grad_(True) if value["t"] in wrt else tensor
    if "l" in value:
        return tuple(_decode(v, tensors, wrt) for v in value["l"])
    if "critic" in value:  # a small fixed network x -> tanh(x W1 + b1) w2, (n, ...) -> (n,)
        w1, b1, w2 = (_decode({"t": k}, tensors, wrt) for k in value["critic"])
        return lambda x: torch.tanh(x.flatten(1) @ w1 + b1) @ w2
    return value["v"]


def _encode(value, prefix: str, out: dict) -> dict:
    """A returned value -> JSON, its tensors added to `out` under keys starting with prefix."""
    if isinstance(value, torch.Tensor):
        out[prefix] = value.detach().contiguous().clone()
        return {"t": prefix}
    if isinstance(value, (tuple, list)):
        return {"l": [_encode(v, f"{prefix}.{i}", out) for i, v in enumerate(value)]}
    if value is None or isinstance(value, (bool, int, float, str)):
        return {"v": value}
    return {"other": type(value).__name__}


def _tensors_of(value) -> list[torch.Tensor]:
    """The tensors of a returned value, in order (a tensor, or tuples of them)."""
    if isinstance(value, torch.Tensor):
        return [value]
    if isinstance(value, (tuple, list)):
        return [t for v in value for t in _tensors_of(v)]
    return []


def _error(e: BaseException) -> dict:
    student = os.path.join(JOB, "student")
    frames = [f for f in traceback.extract_tb(e.__traceback__) if f.filename.startswith(student)]
    where = f" (line {frames[-1].lineno})" if frames else ""
    return {"type": type(e).__name__, "message": str(e)[:500] + where}


def _call(module: types.ModuleType, request: dict) -> dict:
    tensors = load_file(request["inputs"]) if request.get("inputs") else {}
    grad = request.get("grad")
    wrt = set(grad["wrt"]) if grad else set()
    args = [_decode(a, tensors, wrt) for a in request.get("args", [])]
    kwargs = {k: _decode(v, tensors, wrt) for k, v in request.get("kwargs", {}).items()}
    fn = getattr(module, request["fn"], None)
    if not callable(fn):
        return {"ok": False, "error": {"type": "AttributeError", "message": "not defined"}}
    started = time.perf_counter()
    with torch.enable_grad():  # a function may differentiate inside (a gradient penalty)
        result = fn(*args, **kwargs)
        seconds = time.perf_counter() - started
        out: dict = {}
        encoded = _encode(result, "out", out)
        response = {"ok": True, "result": encoded, "seconds": seconds}
        if grad:
            outputs = _tensors_of(result)
            leaves = [tensors[k] for k in grad["wrt"]]
            cotangents = [tensors[k] for k in grad["cotangents"]]
            pairs = [(o, c) for o, c in zip(outputs, cotangents, strict=False) if o.requires_grad]
            grads = (
                torch.autograd.grad(
                    [o for o, _ in pairs], leaves, [c for _, c in pairs], allow_unused=True
                )
                if pairs
                else [None] * len(leaves)
            )
            response["grads"] = []
            for key, g in zip(grad["wrt"], grads, strict=True):
                if g is None:
                    response["grads"].append(None)
                else:
                    out[f"grad.{key}"] = g.detach().contiguous().clone()
                    response["grads"].append(f"grad.{key}")
    if out:
        save_file(out, os.path.join(JOB, "io", f"out-{request['id']}.safetensors"))
        response["outputs"] = True
    return response


def main() -> None:
    protocol = os.fdopen(os.dup(1), "w", buffering=1)  # replies; the student's prints go to 2
    os.dup2(2, 1)
    torch.set_num_threads(1)
    for dotted in CONFIG.get("banned_callables", []):
        _tripwire(dotted)
    sys.addaudithook(_audit)
    try:
        interfaces = [name for _, name in socket.if_nameindex()]
    except OSError:
        interfaces = []
    hello = {"uid": os.getuid(), "network": interfaces, "pid": os.getpid()}
    try:
        module = _load_student()
        originals = dict(module.__dict__)
    except BaseException as e:  # a syntax error, an import error, anything at import time
        protocol.write(json.dumps({"hello": hello, "load_error": _error(e)}) + "\n")
        return
    protocol.write(json.dumps({"hello": hello, "violations": violations}) + "\n")
    for line in sys.stdin:
        request = json.loads(line)
        seen = len(violations)
        if "replace" in request:  # the grader's reference in place of a failed prerequisite
            module.__dict__.update(originals)
            for source in request["replace"]:
                exec(source, module.__dict__)
            response: dict = {"ok": True}
        else:
            try:
                response = _call(module, request)
            except BaseException as e:
                response = {"ok": False, "error": _error(e)}
        response["id"] = request.get("id")
        response["violations"] = violations[seen:]
        protocol.write(json.dumps(response) + "\n")


if __name__ == "__main__":
    main()
