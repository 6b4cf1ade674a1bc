"""The value types settings are declared with: a type and its valid values, in one annotation.

A Config dataclass states each setting's constraint beside its type, e.g.

    latent_dim: PositiveInt
    dropout: Probability
    max_steps: Literal[-1] | PositiveInt  # -1: no limit

and `genbench.config` checks every value against it with pydantic before anything runs, naming
the valid values in the message (`describe`). This module imports nothing else of genbench's,
so models, datasets and classifiers can use it without depending on the config machinery.
"""

from __future__ import annotations

import types
import typing
from typing import Annotated, Any, Literal

import annotated_types
from pydantic import Field, NonNegativeFloat, NonNegativeInt, PositiveFloat, PositiveInt

__all__ = [
    "Annotated",
    "Field",
    "Fraction",
    "Literal",
    "NonNegativeFloat",
    "NonNegativeInt",
    "PositiveFloat",
    "PositiveInt",
    "Probability",
    "Seed",
    "describe",
]

Probability = Annotated[float, Field(ge=0, lt=1)]  # dropout, Adam's betas: 1 would mean "all"
Fraction = Annotated[float, Field(gt=0, le=1)]  # a share of something that keeps some of it
Seed = Annotated[int, Field(ge=0, le=2**32 - 1)]  # numpy's seeds are 32-bit

NAMES = {
    int: "an integer",
    float: "a finite number",
    bool: "true or false",
    str: "text",
    type(None): "null",
}


def describe(annotation: Any) -> str:
    """The valid values of a declared type, in words: `Literal[-1] | PositiveInt` ->
    "-1 or an integer > 0"; `Probability` -> "a number in [0, 1)"."""
    origin, args = typing.get_origin(annotation), typing.get_args(annotation)
    if origin is Annotated:
        return " ".join(filter(None, [describe(args[0]), bounds(args[1:])]))
    if origin in (typing.Union, types.UnionType):
        return " or ".join(describe(arg) for arg in args)
    if origin is Literal:
        return str(args[0]) if len(args) == 1 else "one of " + ", ".join(map(str, args))
    return NAMES.get(annotation, getattr(annotation, "__name__", str(annotation)))


def bounds(metadata: tuple[Any, ...]) -> str:
    """'> 0', '>= 1', 'in [0, 1)' from the annotated-types bounds in `metadata` (pydantic's
    Field(...) keeps them in its own .metadata)."""
    found: dict[str, Any] = {}
    for item in metadata:
        for bound in getattr(item, "metadata", [item]):
            for kind in ("gt", "ge", "lt", "le"):
                if isinstance(bound, getattr(annotated_types, kind.capitalize())):
                    found[kind] = getattr(bound, kind)
    low = ("(", found["gt"]) if "gt" in found else ("[", found["ge"]) if "ge" in found else None
    high = (")", found["lt"]) if "lt" in found else ("]", found["le"]) if "le" in found else None
    if low and high:
        return f"in {low[0]}{low[1]}, {high[1]}{high[0]}"
    if low:
        return f"{'>' if low[0] == '(' else '>='} {low[1]}"
    if high:
        return f"{'<' if high[0] == ')' else '<='} {high[1]}"
    return ""
