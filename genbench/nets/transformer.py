"""A decoder-only transformer (GPT; Radford et al., 2018, 2019): tokens in, logits out.

Each block is pre-LayerNorm masked multi-head self-attention and an MLP, each with a residual:

    x = x + Attention(LayerNorm(x)),   x = x + MLP(LayerNorm(x))
    Attention(Q, K, V) = softmax(Q K^T / sqrt(d) + M) V,   M[i, j] = 0 if j <= i else -inf

(Vaswani et al., 2017). The causal mask M lets position i see positions <= i only, so the
output at i depends on tokens 0..i alone. Written after nanoGPT (Karpathy, 2022); plain
nn.Modules: no losses, no training.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import Tensor, nn


class KVCache:
    """One layer's keys and values of the positions seen so far, for sampling token by token:
    each step computes the new position only, instead of the whole prefix again."""

    def __init__(self) -> None:
        self.k: Tensor | None = None  # (B, nh, S, hs)
        self.v: Tensor | None = None

    def __len__(self) -> int:
        return 0 if self.k is None else self.k.size(2)

    def extend(self, k: Tensor, v: Tensor) -> tuple[Tensor, Tensor]:
        """Append the new positions' k, v (B, nh, T, hs); return all so far, (B, nh, S, hs)."""
        if self.k is not None and self.v is not None:
            k, v = torch.cat([self.k, k], dim=2), torch.cat([self.v, v], dim=2)
        self.k, self.v = k, v
        return k, v


def causal_mask(t: int, s: int) -> Tensor:
    """(t, s) bool, True where query i may attend to key j: the t queries are the last t of
    the s positions, so query i sits at position s - t + i and sees keys j <= s - t + i."""
    return torch.ones(t, s, dtype=torch.bool).tril(diagonal=s - t)


def scaled_dot_product_attention(
    q: Tensor, k: Tensor, v: Tensor, mask: Tensor | None = None
) -> Tensor:
    """softmax(q k^T / sqrt(d) + M) v, M = -inf where `mask` is False (Vaswani et al., 2017).

    q (..., t, d), k (..., s, d), v (..., s, dv), mask bool (t, s) or None -> (..., t, dv).
    """
    scores = (q @ k.transpose(-2, -1)) / math.sqrt(q.size(-1))  # (..., t, s)
    if mask is not None:
        scores = scores.masked_fill(~mask, float("-inf"))
    return torch.softmax(scores, dim=-1) @ v  # each query's weights over the keys it may see


def split_heads(x: Tensor, n_head: int) -> Tensor:
    """(B, T, C) -> (B, n_head, T, C // n_head): head h takes channels [h hs, (h + 1) hs)."""
    B, T, C = x.shape
    return x.view(B, T, n_head, C // n_head).transpose(1, 2)


def merge_heads(x: Tensor) -> Tensor:
    """(B, nh, T, hs) -> (B, T, nh hs), the inverse of split_heads: heads side by side again."""
    B, nh, T, hs = x.shape
    return x.transpose(1, 2).contiguous().view(B, T, nh * hs)


def causal_self_attention(
    x: Tensor, w_qkv: Tensor, b_qkv: Tensor, w_out: Tensor, b_out: Tensor, n_head: int
) -> Tensor:
    """Masked multi-head self-attention, (B, T, C) -> (B, T, C), with the weights of two
    nn.Linear layers: w_qkv (3C, C), b_qkv (3C,) give queries, keys and values (in that order
    along the 3C rows); w_out (C, C), b_out (C,) mix the heads' outputs."""
    T, C = x.size(1), x.size(2)
    q, k, v = F.linear(x, w_qkv, b_qkv).split(C, dim=2)  # each (B, T, C)
    q, k, v = (split_heads(a, n_head) for a in (q, k, v))  # each (B, nh, T, hs)
    y = scaled_dot_product_attention(q, k, v, causal_mask(T, T).to(x.device))  # (B, nh, T, hs)
    return F.linear(merge_heads(y), w_out, b_out)  # (B, T, C)


class CausalSelfAttention(nn.Module):
    """Masked multi-head self-attention: (B, T, C) -> (B, T, C).

    `fast` picks F.scaled_dot_product_attention (fused kernels, with dropout on the attention
    weights); otherwise the functions above, written out (the teaching reference; no dropout on
    the attention weights). Both compute the same function in evaluation.
    """

    def __init__(self, n_embd: int, n_head: int, dropout: float, fast: bool) -> None:
        super().__init__()
        if n_embd % n_head:
            raise ValueError(f"n_embd ({n_embd}) must be a multiple of n_head ({n_head})")
        self.n_head = n_head
        self.dropout = dropout
        self.fast = fast
        self.c_attn = nn.Linear(n_embd, 3 * n_embd)  # queries, keys and values of all heads
        self.c_proj = nn.Linear(n_embd, n_embd)
        self.resid_dropout = nn.Dropout(dropout)

    def forward(self, x: Tensor, cache: KVCache | None = None) -> Tensor:
        if not self.fast and cache is None:
            y = causal_self_attention(
                x, self.c_attn.weight, self.c_attn.bias, self.c_proj.weight, self.c_proj.bias,
                self.n_head,
            )  # fmt: skip
            return self.resid_dropout(y)
        T, C = x.size(1), x.size(2)
        q, k, v = self.c_attn(x).split(C, dim=2)  # each (B, T, C)
        q, k, v = (split_heads(a, self.n_head) for a in (q, k, v))  # each (B, nh, T, hs)
        if cache is not None:
            k, v = cache.extend(k, v)  # (B, nh, S, hs), S = positions so far
        S = k.size(2)
        if self.fast:
            if T not in (1, S):  # is_causal aligns the mask top-left: right for these two cases
                raise ValueError("a cache is extended by one position at a time")
            y = F.scaled_dot_product_attention(
                q,
                k,
                v,
                dropout_p=self.dropout if self.training else 0.0,
                is_causal=T > 1,  # one new query is the last position: it sees every key
            )  # (B, nh, T, hs)
        else:
            y = scaled_dot_product_attention(q, k, v, causal_mask(T, S).to(x.device))
        return self.resid_dropout(self.c_proj(merge_heads(y)))  # (B, T, C)


class Block(nn.Module):
    """Pre-LayerNorm transformer block: attention then MLP, each added to the residual stream."""

    def __init__(self, n_embd: int, n_head: int, dropout: float, fast: bool) -> None:
        super().__init__()
        self.ln_1 = nn.LayerNorm(n_embd)
        self.attn = CausalSelfAttention(n_embd, n_head, dropout, fast)
        self.ln_2 = nn.LayerNorm(n_embd)
        self.mlp = nn.Sequential(
            nn.Linear(n_embd, 4 * n_embd),
            nn.GELU(),
            nn.Linear(4 * n_embd, n_embd),
            nn.Dropout(dropout),
        )

    def forward(self, x: Tensor, cache: KVCache | None = None) -> Tensor:
        x = x + self.attn(self.ln_1(x), cache)  # (B, T, C)
        return x + self.mlp(self.ln_2(x))  # (B, T, C)


class Transformer(nn.Module):
    """Token ids (B, T) in [0, vocab_size) -> logits (B, T, n_out); the output at position t
    depends on tokens 0..t only. Positions are learned embeddings, up to `block_size`.

    With `caches` (one KVCache per block), the tokens continue the sequence the caches hold.
    """

    def __init__(
        self,
        vocab_size: int,
        n_out: int,
        block_size: int,
        n_layer: int,
        n_head: int,
        n_embd: int,
        dropout: float,
        fast: bool,
    ) -> None:
        super().__init__()
        self.block_size = block_size
        self.wte = nn.Embedding(vocab_size, n_embd)  # token embeddings
        self.wpe = nn.Embedding(block_size, n_embd)  # position embeddings
        self.drop = nn.Dropout(dropout)
        self.blocks = nn.ModuleList([Block(n_embd, n_head, dropout, fast) for _ in range(n_layer)])
        self.ln_f = nn.LayerNorm(n_embd)
        self.head = nn.Linear(n_embd, n_out)
        self.apply(_init_weights)
        for block in self.blocks:  # GPT-2: scale the residual projections by 1/sqrt(2 n_layer)
            for proj in (block.attn.c_proj, block.mlp[2]):
                nn.init.normal_(proj.weight, std=0.02 / math.sqrt(2 * n_layer))

    def new_caches(self) -> list[KVCache]:
        """Empty caches, one per block, for decoding one position at a time."""
        return [KVCache() for _ in self.blocks]

    def forward(
        self, idx: Tensor, caches: list[KVCache] | None = None, condition: Tensor | None = None
    ) -> Tensor:
        """idx (B, T) -> logits (B, T, n_out); `condition` (B, 1, C), if given, is added to
        every position's embedding (a class, for p(x|y))."""
        T = idx.size(1)
        start = 0 if caches is None else len(caches[0])  # position of idx[:, 0]
        if start + T > self.block_size:
            raise ValueError(f"sequence of {start + T} exceeds block_size {self.block_size}")
        pos = torch.arange(start, start + T, device=idx.device)  # (T,)
        x = self.wte(idx) + self.wpe(pos)  # (B, T, C)
        if condition is not None:
            x = x + condition
        x = self.drop(x)
        for i, block in enumerate(self.blocks):
            x = block(x, None if caches is None else caches[i])  # (B, T, C)
        return self.head(self.ln_f(x))  # (B, T, n_out)


def _init_weights(module: nn.Module) -> None:
    """GPT-2's initialization: N(0, 0.02) weights, zero biases (LayerNorm keeps 1 and 0)."""
    if isinstance(module, (nn.Linear, nn.Embedding)):
        nn.init.normal_(module.weight, std=0.02)
    if isinstance(module, nn.Linear) and module.bias is not None:
        nn.init.zeros_(module.bias)
