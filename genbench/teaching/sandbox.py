"""The grader's side of the sandbox: start the worker (worker.py) on a copy of a submission, with
limits, and call the student's functions through it as if they were local.

Student code never runs in the grader's process. Each worker runs under rlimits (CPU time,
address space, file size, open files, processes), in its own session (killed as a group), with a
wall-clock limit per call; when the grader is root it also runs as an unprivileged user in a new
network namespace, where the system allows it. Which protections held is recorded with every
grade (`Protections`).
"""

from __future__ import annotations

import contextlib
import ctypes
import json
import os
import resource
import select
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict, dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

import torch
from safetensors.torch import load, save_file

WORKER = Path(__file__).with_name("worker.py")
UNPRIVILEGED = 65534  # nobody
CLONE_NEWNET = 0x40000000
MAX_FILE_BYTES = 1 << 20  # submission files copied into the sandbox: at most this size each


@dataclass(frozen=True)
class Limits:
    """What one sandboxed process may use."""

    call_seconds: float = 20.0  # wall clock per call
    start_seconds: float = 90.0  # wall clock to start: Python, torch and the student's import
    cpu_seconds: int = 300  # CPU time of the whole process
    memory_bytes: int = 3 << 30  # address space
    file_bytes: int = 64 << 20  # largest file it may write
    processes: int = 64  # processes and threads of its user (only with an unprivileged user)


@dataclass
class Protections:
    """The protections in force for a grade, as results.json records them."""

    separate_process: bool = True
    rlimits: dict[str, int] = field(default_factory=dict)
    wall_clock_seconds: float = 0.0
    unprivileged_user: str = "no"
    network_namespace: bool = False
    audit_hook: bool = True  # files outside the folder and banned imports refused, reported
    exchange: str = "JSON and safetensors files, no pickle"


class StudentError(Exception):
    """The student's code failed: raised, timed out, crashed, or returned something unusable."""

    def __init__(self, kind: str, message: str) -> None:
        super().__init__(f"{kind}: {message}" if message else kind)
        self.kind = kind  # exception type name, "timeout", "crash", "not attempted", ...
        self.message = message


@dataclass
class Critic:
    """A small fixed network x -> tanh(x W1 + b1) w2 that the worker builds from these weights,
    for functions that take a callable (the GAN's gradient penalty)."""

    w1: torch.Tensor  # (D, H)
    b1: torch.Tensor  # (H,)
    w2: torch.Tensor  # (H,)

    def __call__(self, x: torch.Tensor) -> torch.Tensor:
        return torch.tanh(x.flatten(1) @ self.w1 + self.b1) @ self.w2


@cache
def _can_drop_privileges() -> bool:
    """Whether an unprivileged user can run this Python (not when it lives under /root)."""
    if os.geteuid() != 0:
        return False
    try:
        done = subprocess.run(
            [sys.executable, "-I", "-c", "import torch, safetensors"],
            preexec_fn=_drop_privileges, capture_output=True, timeout=120,
        )  # fmt: skip
    except (OSError, subprocess.SubprocessError):
        return False
    return done.returncode == 0


def _drop_privileges() -> None:
    os.setgroups([])
    os.setgid(UNPRIVILEGED)
    os.setuid(UNPRIVILEGED)


def _new_network_namespace() -> bool:
    libc = ctypes.CDLL(None, use_errno=True)
    return libc.unshare(CLONE_NEWNET) == 0


def _limit(limits: Limits, unprivileged: bool, isolate: bool):
    """The function the child runs before exec: limits, then namespace and user."""

    def setup() -> None:
        resource.setrlimit(resource.RLIMIT_CPU, (limits.cpu_seconds, limits.cpu_seconds + 5))
        resource.setrlimit(resource.RLIMIT_AS, (limits.memory_bytes, limits.memory_bytes))
        resource.setrlimit(resource.RLIMIT_FSIZE, (limits.file_bytes, limits.file_bytes))
        resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
        resource.setrlimit(resource.RLIMIT_NOFILE, (256, 256))
        if isolate:
            _new_network_namespace()
        if unprivileged:
            resource.setrlimit(resource.RLIMIT_NPROC, (limits.processes, limits.processes))
            _drop_privileges()

    return setup


def protections(limits: Limits) -> Protections:
    """What a sandbox started now with these limits would have in force."""
    root = os.geteuid() == 0
    unprivileged = _can_drop_privileges()
    return Protections(
        rlimits={
            "cpu_seconds": limits.cpu_seconds,
            "address_space_bytes": limits.memory_bytes,
            "file_bytes": limits.file_bytes,
            "open_files": 256,
            **({"processes": limits.processes} if unprivileged else {}),
        },
        wall_clock_seconds=limits.call_seconds,
        unprivileged_user=(
            "nobody (uid 65534)"
            if unprivileged
            else "no: the grader is not root"
            if not root
            else f"no: {sys.executable} is not readable by an unprivileged user"
        ),
        network_namespace=root,  # confirmed per worker from the interfaces it sees
    )


def copy_submission(source: Path, job: Path) -> None:
    """The submission's files (Python and small data, no links) into job/student."""
    target = job / "student"
    target.mkdir()
    for path in sorted(source.iterdir()):
        if path.is_file() and not path.is_symlink() and path.stat().st_size <= MAX_FILE_BYTES:
            shutil.copyfile(path, target / path.name)


class Sandbox:
    """A job folder holding a copy of one submission, and the processes that run it.

    `call(fn, *args)` runs the student's function `fn` in the worker and returns its value
    (tensors, tuples of tensors, plain values); a failure raises StudentError. A worker that
    timed out or crashed is replaced on the next call.
    """

    def __init__(
        self, submission: Path, config: dict[str, Any], limits: Limits | None = None
    ) -> None:
        self.limits = limits or Limits()
        self.config = config  # student_file, banned_callables, forbidden_modules
        # job/ and the worker script are the grader's; the worker may write in student/ and io/
        self.job = Path(tempfile.mkdtemp(prefix="genbench-sandbox-"))
        self.job.chmod(0o755)
        copy_submission(submission, self.job)
        (self.job / "io").mkdir()
        shutil.copyfile(WORKER, self.job / "_worker.py")
        self.unprivileged = _can_drop_privileges()
        self.isolate = os.geteuid() == 0
        for folder in (self.job / "student", self.job / "io"):
            for path in [folder, *folder.rglob("*")]:
                if self.unprivileged:
                    os.chown(path, UNPRIVILEGED, UNPRIVILEGED)
            folder.chmod(0o700)
        self.process: subprocess.Popen | None = None
        self.buffer = b""
        self.calls = 0
        self.replaced: list[str] = []
        self.violations: list[str] = []
        self.network_isolated: bool | None = None
        self.load_error: StudentError | None = None

    # --- processes ----------------------------------------------------------------------
    def popen(
        self, command: list[str], limits: Limits | None = None, **kwargs: Any
    ) -> subprocess.Popen:
        """Start `command` in the job folder with the sandbox's limits (or `limits`), user and
        namespace."""
        env = {
            "PATH": "/usr/local/bin:/usr/bin:/bin",
            "HOME": str(self.job / "io"),
            "TMPDIR": str(self.job / "io"),
            "OMP_NUM_THREADS": "1",
            "MKL_NUM_THREADS": "1",
            "MPLCONFIGDIR": str(self.job / "io" / "mpl"),
            **kwargs.pop("env", {}),
        }
        return subprocess.Popen(
            command, cwd=self.job / "student", env=env, start_new_session=True,
            preexec_fn=_limit(limits or self.limits, self.unprivileged, self.isolate), **kwargs,
        )  # fmt: skip

    def _start(self) -> None:
        log = (self.job / "worker.log").open("ab")  # the student's prints and tracebacks
        worker = [sys.executable, "-I", "-B", str(self.job / "_worker.py")]
        self.process = self.popen(
            [*worker, str(self.job), json.dumps(self.config)],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=log,
        )  # fmt: skip
        log.close()
        self.buffer = b""
        hello = self._read(self.limits.start_seconds, "starting and importing the file")
        interfaces = hello["hello"].get("network", [])
        self.network_isolated = bool(self.isolate and interfaces and set(interfaces) <= {"lo"})
        self.violations += hello.get("violations", [])
        if "load_error" in hello:
            error = hello["load_error"]
            self.load_error = StudentError(error["type"], error["message"])
            self.close()
            raise self.load_error
        if self.replaced:
            self._send({"replace": self.replaced})
            self._read(self.limits.call_seconds, "replacing a function")

    def close(self) -> None:
        """Kill the worker and everything it started."""
        if self.process is not None:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait()
            for pipe in (self.process.stdin, self.process.stdout):
                if pipe:
                    pipe.close()
            self.process = None

    def cleanup(self) -> None:
        self.close()
        shutil.rmtree(self.job, ignore_errors=True)

    def __enter__(self) -> Sandbox:
        return self

    def __exit__(self, *exc: object) -> None:
        self.cleanup()

    # --- the protocol -------------------------------------------------------------------
    def _send(self, message: dict) -> None:
        assert self.process is not None and self.process.stdin is not None
        try:
            self.process.stdin.write((json.dumps(message) + "\n").encode())
            self.process.stdin.flush()
        except (BrokenPipeError, OSError):
            pass  # the read that follows reports the crash

    def _read(self, seconds: float, doing: str) -> dict:
        assert self.process is not None and self.process.stdout is not None
        deadline = time.monotonic() + seconds
        fd = self.process.stdout.fileno()
        while b"\n" not in self.buffer:
            left = deadline - time.monotonic()
            ready, _, _ = select.select([fd], [], [], max(0.0, left))
            if not ready:
                self.close()
                raise StudentError("timeout", f"no answer within {seconds:g} s while {doing}")
            chunk = os.read(fd, 1 << 16)
            if not chunk:
                code = self.process.wait()
                self.close()
                raise StudentError("crash", f"the process ended ({_describe(code)}) while {doing}")
            self.buffer += chunk
        line, _, self.buffer = self.buffer.partition(b"\n")
        try:
            return json.loads(line)
        except json.JSONDecodeError:
            self.close()
            raise StudentError("protocol", "the worker's answer was not readable") from None

    def replace(self, sources: list[str]) -> None:
        """Run the reference's source of these functions in the student's module in place of
        theirs, from the next call on (a failed prerequisite is not charged twice)."""
        if sources != self.replaced:
            self.replaced = list(sources)
            if self.process is not None:
                self._send({"replace": self.replaced})
                self._read(self.limits.call_seconds, "replacing a function")

    def call(self, fn: str, *args: Any, grad: dict | None = None, **kwargs: Any) -> Any:
        """fn(*args, **kwargs) in the worker. With grad={"wrt": [tensors among the args],
        "cotangents": [one per output tensor]}, returns (value, [d<v, out>/d wrt, ...]) with
        None for an input the output does not depend on."""
        if self.load_error is not None:
            raise self.load_error
        if self.process is None:
            self._start()
        self.calls += 1
        box = _Outbox()
        request: dict[str, Any] = {
            "id": self.calls,
            "fn": fn,
            "args": [box.encode(a) for a in args],
            "kwargs": {k: box.encode(v) for k, v in kwargs.items()},
        }
        if grad is not None:
            request["grad"] = {
                "wrt": [box.key(t) for t in grad["wrt"]],
                "cotangents": [box.key(c) for c in grad["cotangents"]],
            }
        if box.tensors:
            request["inputs"] = str(self.job / "io" / f"in-{self.calls}.safetensors")
            save_file(box.tensors, request["inputs"])
            if self.unprivileged:
                os.chown(request["inputs"], UNPRIVILEGED, UNPRIVILEGED)
        self._send(request)
        response = self._read(self.limits.call_seconds, f"running {fn}")
        self.violations += response.get("violations", [])
        if not response["ok"]:
            error = response["error"]
            raise StudentError(error["type"], error["message"])
        out_path = self.job / "io" / f"out-{self.calls}.safetensors"  # never a path it names
        outputs = _read_tensors(out_path) if response.get("outputs") else {}
        for path in (request.get("inputs"), out_path):
            if path:
                with contextlib.suppress(FileNotFoundError):
                    os.remove(path)
        value = _decode(response["result"], outputs)
        if grad is None:
            return value
        return value, [None if key is None else outputs[key] for key in response["grads"]]


class _Outbox:
    """The tensors of one call, each stored once under a key (an input named twice, or as an
    argument and as a gradient target, is the same key)."""

    def __init__(self) -> None:
        self.tensors: dict[str, torch.Tensor] = {}
        self.keys: dict[int, str] = {}

    def key(self, tensor: torch.Tensor) -> str:
        if id(tensor) not in self.keys:
            self.keys[id(tensor)] = key = f"a{len(self.tensors)}"
            self.tensors[key] = tensor.detach().contiguous().clone()
        return self.keys[id(tensor)]

    def encode(self, value: Any) -> dict:
        if isinstance(value, torch.Tensor):
            return {"t": self.key(value)}
        if isinstance(value, Critic):
            return {"critic": [self.key(t) for t in (value.w1, value.b1, value.w2)]}
        if isinstance(value, (tuple, list)):
            return {"l": [self.encode(v) for v in value]}
        if value is None or isinstance(value, (bool, int, float, str)):
            return {"v": value}
        raise TypeError(f"cannot send a {type(value).__name__} to the sandbox")


def _decode(value: dict, tensors: dict[str, torch.Tensor]) -> Any:
    if "t" in value:
        return tensors[value["t"]]
    if "l" in value:
        return tuple(_decode(v, tensors) for v in value["l"])
    if "other" in value:
        raise StudentError("bad return", f"returned a {value['other']}, expected tensors")
    return value["v"]


def _read_tensors(path: Path) -> dict[str, torch.Tensor]:
    """A safetensors file the worker wrote, refusing links (it could point anywhere)."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW)
    except OSError as e:
        raise StudentError("protocol", f"no readable outputs ({e.strerror})") from None
    with os.fdopen(fd, "rb") as f:
        data = f.read()
    try:
        return load(data)
    except Exception:
        raise StudentError("protocol", "the outputs could not be read") from None


def _describe(returncode: int) -> str:
    if returncode < 0:
        name = signal.Signals(-returncode).name
        reasons = {"SIGXCPU": "CPU time limit", "SIGKILL": "killed", "SIGSEGV": "crashed"}
        return f"{name}, {reasons.get(name, 'a signal')}"
    return f"exit code {returncode}"


def protections_record(sandbox: Sandbox | None, limits: Limits) -> dict[str, Any]:
    record = asdict(protections(limits))
    if sandbox is not None and sandbox.network_isolated is not None:
        record["network_namespace"] = sandbox.network_isolated
    return record
