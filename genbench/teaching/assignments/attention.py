"""Checks of the attention assignment (spec: attention.yaml)."""

from __future__ import annotations

import math

import torch

from genbench.teaching.checks import Context, registry

CHECKS, check = registry()


@check("causal_mask", "unit", 1)
def mask_of_small_sizes(ctx: Context) -> None:
    for t, s in [(1, 1), (3, 3), (1, 4), (2, 5)]:
        want = ctx.reference.causal_mask(t, s)
        ahead = torch.ones(t, s, dtype=torch.bool).tril(diagonal=s - t + 1)
        behind = torch.ones(t, s, dtype=torch.bool).tril(diagonal=s - t - 1)
        ctx.close(
            ctx.student.causal_mask(t, s), want, f"causal_mask({t}, {s})",
            likely={
                "each query sees one position ahead (diagonal off by one)": ahead,
                "each query misses its own position (diagonal off by one)": behind,
                "the transpose (keys see queries)": want.T if t == s else want,
            },
        )  # fmt: skip


@check("causal_mask", "unit", 1, hidden=True)
def mask_of_random_sizes(ctx: Context) -> None:
    for _ in range(3):
        s = int(ctx.randint(1, 12, 1))
        t = int(ctx.randint(1, s + 1, 1))
        ahead = torch.ones(t, s, dtype=torch.bool).tril(diagonal=s - t + 1)
        ctx.close(
            ctx.student.causal_mask(t, s), ctx.reference.causal_mask(t, s), "causal_mask",
            likely={"each query sees one position ahead (diagonal off by one)": ahead},
        )  # fmt: skip


def _attention_inputs(ctx: Context, t: int = 4, s: int = 6, d: int = 8):
    q, k, v = ctx.randn(2, 3, t, d), ctx.randn(2, 3, s, d), ctx.randn(2, 3, s, 5)
    return q, k, v, ctx.reference.causal_mask(t, s)


def _attention_bugs(q, k, v, mask) -> dict[str, torch.Tensor]:
    scores = q @ k.transpose(-2, -1)
    masked = scores.masked_fill(~mask, float("-inf")) if mask is not None else scores
    scaled = masked / math.sqrt(q.size(-1))
    return {
        "the 1/sqrt(d) scaling is missing": torch.softmax(masked, -1) @ v,
        "the softmax runs over the wrong axis (queries instead of keys)": torch.softmax(
            scaled, -2
        ).nan_to_num()
        @ v,
        "the mask is ignored": torch.softmax(scores / math.sqrt(q.size(-1)), -1) @ v,
    }


@check("scaled_dot_product_attention", "unit", 2)
def attention_with_and_without_mask(ctx: Context) -> None:
    q, k, v, mask = _attention_inputs(ctx)
    for m, what in ((mask, "with a causal mask"), (None, "without a mask")):
        ctx.close(
            ctx.student.scaled_dot_product_attention(q, k, v, m),
            ctx.reference.scaled_dot_product_attention(q, k, v, m),
            f"scaled_dot_product_attention {what}",
            likely=_attention_bugs(q, k, v, m),
        )


@check("scaled_dot_product_attention", "unit", 1, hidden=True)
def attention_of_random_shapes(ctx: Context) -> None:
    t, s, d = (int(x) for x in ctx.randint(1, 9, 3))
    s = max(s, t)
    q, k, v, mask = _attention_inputs(ctx, t, s, d)
    ctx.close(
        ctx.student.scaled_dot_product_attention(q, k, v, mask),
        ctx.reference.scaled_dot_product_attention(q, k, v, mask),
        "scaled_dot_product_attention", likely=_attention_bugs(q, k, v, mask),
    )  # fmt: skip


@check("scaled_dot_product_attention", "property", 1)
def attention_rows_are_convex_combinations(ctx: Context) -> None:
    """With v = identity rows, the output is the attention matrix: rows sum to 1, zero on
    masked keys; huge scores stay finite."""
    q, k, _, mask = _attention_inputs(ctx, 5, 5)
    v = torch.eye(5, dtype=torch.float64).expand(2, 3, 5, 5)
    weights = ctx.finite(
        ctx.student.scaled_dot_product_attention(1e3 * q, k, v, mask), "attention at scores ~1e3"
    )
    if not torch.allclose(weights.sum(-1), torch.ones(2, 3, 5, dtype=torch.float64)):
        ctx.fail("attention weights do not sum to 1 over the keys: softmax on the wrong axis?")
    if weights.masked_select(~mask).abs().max() > 0:
        ctx.fail("masked keys get weight: the mask is not applied before the softmax")


@check("scaled_dot_product_attention", "gradient", 1)
def attention_gradients(ctx: Context) -> None:
    q, k, v, mask = _attention_inputs(ctx, 3, 4, 4)
    ctx.gradcheck("scaled_dot_product_attention", [q, k, v, mask], wrt=[0, 1, 2])


@check("split_heads", "unit", 1)
def split_and_merge_shapes_and_values(ctx: Context) -> None:
    x = ctx.randn(2, 5, 12)
    want = ctx.reference.split_heads(x, 3)
    wrong_order = x.view(2, 5, 4, 3).transpose(2, 3).transpose(1, 2)
    ctx.close(
        ctx.student.split_heads(x, 3), want, "split_heads(x of (2, 5, 12), 3)",
        likely={"the heads are split in the wrong order (strided channels, not blocks)":
                wrong_order, "the heads are not moved before the time axis": x.view(2, 5, 3, 4)},
    )  # fmt: skip


@check("merge_heads", "unit", 1)
def merge_inverts_split(ctx: Context) -> None:
    x = ctx.randn(2, 3, 5, 4)
    ctx.close(
        ctx.student.merge_heads(x), ctx.reference.merge_heads(x), "merge_heads(x of (2, 3, 5, 4))",
        likely={"the heads are merged without moving the time axis back":
                x.contiguous().view(2, 5, 12)},
    )  # fmt: skip


@check("merge_heads", "property", 1, hidden=True)
def merge_of_split_is_identity(ctx: Context) -> None:
    n_head = int(ctx.randint(1, 5, 1))
    x = ctx.randn(2, 7, 4 * n_head)
    split = ctx.reference.split_heads(x, n_head)
    ctx.close(ctx.student.merge_heads(split), x, "merge_heads(split_heads(x))")


def _layer(ctx: Context, T: int = 6, C: int = 8):
    x = ctx.randn(2, T, C)
    return [x, ctx.randn(3 * C, C, scale=0.3), ctx.randn(3 * C), ctx.randn(C, C, scale=0.3),
            ctx.randn(C), 2]  # fmt: skip


@check("causal_self_attention", "unit", 2)
def layer_matches_reference(ctx: Context) -> None:
    args = _layer(ctx)
    ctx.close(
        ctx.student.causal_self_attention(*args),
        ctx.reference.causal_self_attention(*args),
        "causal_self_attention(x (2, 6, 8), n_head=2)",
    )


@check("causal_self_attention", "property", 2)
def layer_is_causal(ctx: Context) -> None:
    """Changing the tokens after position t leaves the outputs at positions <= t unchanged."""
    args = _layer(ctx)
    before = ctx.tensor(ctx.student.causal_self_attention(*args), "causal_self_attention")
    for t in (0, 2, 4):
        changed = args[0].clone()
        changed[:, t + 1 :] = ctx.randn(2, 5 - t, 8)
        after = ctx.tensor(
            ctx.student.causal_self_attention(changed, *args[1:]), "causal_self_attention"
        )
        if not torch.allclose(before[:, : t + 1], after[:, : t + 1], atol=1e-10):
            ctx.fail(f"the output at position {t} changes with later tokens: future leaks in")


@check("causal_self_attention", "gradient", 1, hidden=True)
def layer_gradients(ctx: Context) -> None:
    ctx.gradcheck("causal_self_attention", _layer(ctx, 4, 4), wrt=[0, 1, 3])
