"""Checks: how an assignment's tests are written, and the helpers they share.

A check is a function of a `Context`, registered with `@check(task, kind, points)` in the
assignment's checks module. It calls the student's functions through `ctx.student` (they run in
the sandbox), genbench's own through `ctx.reference` (here, trusted), and fails by raising
CheckFailed with a message that names the likely bug. Kinds:
  unit      against the reference on fixed and random float64 inputs, explicit tolerances;
  property  causality, gradients reaching the right inputs, finiteness at extreme inputs,
            normalization, invariances: facts that hold whatever the implementation;
  gradient  the student's gradients against finite differences of the student's own function
            (a randomized torch.autograd.gradcheck, computed here from the sandbox's outputs);
Random inputs come from `ctx.gen`, seeded by the assignment's public seed for public checks and
by a seed the student folder does not hold for hidden ones, so hard-coded outputs fail.
A hidden check's message never shows inputs or expected values.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal

import torch
from torch import Tensor

from genbench.teaching.sandbox import Sandbox, StudentError

Kind = Literal["unit", "property", "gradient", "benchmark"]


class CheckFailed(Exception):
    """The student's answer is wrong; the message says how, and what is the likely bug."""


@dataclass(frozen=True)
class Check:
    task: str
    kind: Kind
    points: float
    hidden: bool
    run: Callable[[Context], None]

    @property
    def name(self) -> str:
        return self.run.__name__


def registry() -> tuple[list[Check], Callable]:
    """A list for a checks module and the decorator that fills it, in declaration order."""
    checks: list[Check] = []

    def check(task: str, kind: Kind, points: float, hidden: bool = False) -> Callable:
        def register(fn: Callable[[Context], None]) -> Callable[[Context], None]:
            checks.append(Check(task, kind, points, hidden, fn))
            return fn

        return register

    return checks, check


class Student:
    """The student's functions, called in the sandbox: `ctx.student.causal_mask(3, 5)`."""

    def __init__(self, sandbox: Sandbox) -> None:
        self._sandbox = sandbox

    def __getattr__(self, name: str) -> Callable[..., Any]:
        return lambda *args, **kwargs: self._sandbox.call(name, *args, **kwargs)

    def with_grad(
        self, name: str, *args: Any, wrt: list[Tensor], cotangents: list[Tensor], **kwargs: Any
    ) -> tuple[Any, list[Tensor | None]]:
        """name(*args) and the gradients of sum_i <cotangent_i, output_i> w.r.t. `wrt`."""
        grad = {"wrt": wrt, "cotangents": cotangents}
        return self._sandbox.call(name, *args, grad=grad, **kwargs)


class Context:
    """What a check works with: the student's functions, the reference's, and a seeded RNG."""

    def __init__(self, student: Student, reference: Any, seed: int, check: Check) -> None:
        self.student = student
        self.reference = reference
        self.hidden = check.hidden
        digest = hashlib.sha256(f"{seed}:{check.task}:{check.name}".encode()).digest()
        self.gen = torch.Generator().manual_seed(int.from_bytes(digest[:8], "little"))

    # --- inputs -------------------------------------------------------------------------
    def randn(self, *shape: int, scale: float = 1.0) -> Tensor:
        return scale * torch.randn(shape, generator=self.gen, dtype=torch.float64)

    def rand(self, *shape: int) -> Tensor:
        return torch.rand(shape, generator=self.gen, dtype=torch.float64)

    def randint(self, low: int, high: int, *shape: int) -> Tensor:
        return torch.randint(low, high, shape, generator=self.gen)

    # --- verdicts -----------------------------------------------------------------------
    def fail(self, message: str) -> None:
        raise CheckFailed(message)

    def tensor(self, value: Any, what: str) -> Tensor:
        if not isinstance(value, Tensor):
            self.fail(f"{what} returned {type(value).__name__}, expected a tensor")
        return value

    def close(
        self,
        got: Any,
        want: Tensor,
        what: str,
        atol: float = 1e-8,
        rtol: float = 1e-6,
        likely: dict[str, Tensor] | None = None,
    ) -> None:
        """got == want within tolerances, same shape and dtype kind; if not, and got matches
        one of `likely` (label -> the output of a known bug), the message names that bug."""
        got = self.tensor(got, what)
        if got.shape != want.shape:
            self.fail(f"{what}: shape {tuple(got.shape)}, expected {tuple(want.shape)}")
        if got.dtype == torch.bool or want.dtype == torch.bool:
            if got.dtype != want.dtype:
                self.fail(f"{what}: dtype {got.dtype}, expected {want.dtype}")
            if not torch.equal(got, want):
                self.fail(self._diagnosis(what, got, likely) or self._where(what, got, want))
            return
        if not torch.is_floating_point(got):
            got = got.to(want.dtype)
        if torch.allclose(got.to(want.dtype), want, atol=atol, rtol=rtol, equal_nan=True):
            return
        self.fail(self._diagnosis(what, got, likely, atol, rtol) or self._where(what, got, want))

    def _diagnosis(
        self, what: str, got: Tensor, likely: dict[str, Tensor] | None,
        atol: float = 1e-8, rtol: float = 1e-6,
    ) -> str | None:  # fmt: skip
        for label, value in (likely or {}).items():
            if value.shape == got.shape and torch.allclose(
                got.to(value.dtype), value, atol=atol, rtol=rtol, equal_nan=True
            ):
                return f"{what} is wrong: it looks like {label}"
        return None

    def _where(self, what: str, got: Tensor, want: Tensor) -> str:
        error = (got.to(want.dtype) - want).abs()
        error = torch.where(torch.isnan(error), torch.full_like(error, float("inf")), error)
        index = tuple(int(i) for i in torch.unravel_index(error.argmax(), error.shape))
        message = f"{what} differs from the expected values: max abs error {error.max():.3g}"
        if self.hidden:  # never show a hidden check's inputs or expected values
            return message
        return f"{message} at index {index} (got {got[index]:.6g}, expected {want[index]:.6g})"

    def finite(self, value: Any, what: str) -> Tensor:
        value = self.tensor(value, what)
        if not torch.isfinite(value).all():
            self.fail(f"{what} has NaN or inf values")
        return value

    def gradcheck(
        self,
        fn: str,
        args: list[Any],
        wrt: list[int],
        step: float = 1e-6,
        rtol: float = 1e-4,
        **kwargs: Any,
    ) -> None:
        """The student's gradient against a central finite difference of the student's own
        function along a random direction u: v^T J u (randomized gradcheck, float64)."""
        out = getattr(self.student, fn)(*args, **kwargs)
        outputs = [out] if isinstance(out, Tensor) else list(out)
        cotangents = [self.randn(*o.shape) for o in outputs]
        inputs = [args[i] for i in wrt]
        _, grads = self.student.with_grad(fn, *args, wrt=inputs, cotangents=cotangents, **kwargs)
        for i, g in zip(wrt, grads, strict=True):
            if g is None:
                self.fail(f"{fn}: no gradient reaches argument {i} (is it detached?)")
        directions = [self.randn(*args[i].shape) for i in wrt]
        shifted = []
        for sign in (1.0, -1.0):
            moved = list(args)
            for i, u in zip(wrt, directions, strict=True):
                moved[i] = args[i] + sign * step * u
            value = getattr(self.student, fn)(*moved, **kwargs)
            shifted.append([value] if isinstance(value, Tensor) else list(value))
        numeric = sum(
            (v * (plus - minus)).sum() / (2 * step)
            for v, plus, minus in zip(cotangents, *shifted, strict=True)
        )
        analytic = sum((g * u).sum() for g, u in zip(grads, directions, strict=True))
        if not torch.isclose(analytic, numeric, rtol=rtol, atol=1e-6):
            self.fail(
                f"{fn}: gradient disagrees with finite differences of your own function "
                f"({float(analytic):.6g} vs {float(numeric):.6g}): a step that autograd does "
                "not see (in-place changes, .data, detach, numpy)?"
            )


def student_error_message(error: StudentError) -> str:
    """How a failure inside the student's code reads in feedback."""
    if error.kind == "NotImplementedError":
        return "not attempted (raises NotImplementedError)"
    if error.kind == "timeout":
        return f"stopped: {error.message} (an infinite loop?)"
    if error.kind == "crash":
        return f"stopped: {error.message} (memory or CPU limit?)"
    return f"your code raised {error.kind}: {error.message}"
