import pytest
import torch

import genbench.nets.transformer as nets
from genbench.nets.transformer import CausalSelfAttention, Transformer

VOCAB, N_OUT, BLOCK = 6, 5, 12


def make_net(fast: bool, dropout: float = 0.0, seed: int = 0) -> Transformer:
    torch.manual_seed(seed)
    return Transformer(
        VOCAB, N_OUT, BLOCK, n_layer=2, n_head=2, n_embd=16, dropout=dropout, fast=fast
    )


def tokens(n: int = 3, seed: int = 1) -> torch.Tensor:
    return torch.randint(VOCAB, (n, BLOCK), generator=torch.Generator().manual_seed(seed))


def future_leaks(net: Transformer) -> bool:
    """Whether changing tokens t+1.. changes the logits at some position <= t, for several t."""
    net.eval()
    idx = tokens()
    generator = torch.Generator().manual_seed(2)
    with torch.no_grad():
        before = net(idx)
        for t in (0, 3, 7, BLOCK - 2):
            changed = idx.clone()
            changed[:, t + 1 :] = torch.randint(
                VOCAB, changed[:, t + 1 :].shape, generator=generator
            )
            after = net(changed)
            assert not torch.allclose(after[:, t + 1 :], before[:, t + 1 :])  # it did change
            if not torch.allclose(after[:, : t + 1], before[:, : t + 1], atol=1e-6):
                return True
    return False


@pytest.mark.parametrize("fast", [True, False])
def test_logits_at_t_do_not_depend_on_later_tokens(fast):
    assert not future_leaks(make_net(fast))


def test_the_causality_check_catches_attention_without_mask(monkeypatch):
    """The check above can fail: with the mask removed, later tokens leak into earlier logits."""
    monkeypatch.setattr(nets, "causal_mask", lambda t, s: torch.ones(t, s, dtype=torch.bool))
    assert future_leaks(make_net(fast=False))


@pytest.mark.parametrize("train", [True, False])
def test_explicit_attention_equals_scaled_dot_product_attention(train):
    """softmax(QK^T/sqrt(d) + mask) V written out equals the fused kernel: train mode with
    dropout off, and eval mode (where dropout is off whatever its rate)."""
    dropout = 0.0 if train else 0.3
    fast = make_net(True, dropout).train(train)
    explicit = make_net(False, dropout).train(train)
    idx = tokens()
    out_fast, out_explicit = fast(idx), explicit(idx)
    assert torch.allclose(out_fast, out_explicit, atol=1e-5)
    out_fast.pow(2).sum().backward()
    out_explicit.pow(2).sum().backward()
    for p, q in zip(fast.parameters(), explicit.parameters(), strict=True):
        assert torch.allclose(p.grad, q.grad, atol=1e-5)

    torch.manual_seed(3)
    x = torch.randn(2, 7, 16)
    attention = CausalSelfAttention(16, 4, dropout, fast=True).train(train)
    y_fast = attention(x)
    attention.fast = False
    assert torch.allclose(y_fast, attention(x), atol=1e-6)


@pytest.mark.parametrize("fast", [True, False])
def test_decoding_with_a_kv_cache_equals_the_full_forward_pass(fast):
    net = make_net(fast).eval()
    idx = tokens()
    caches = net.new_caches()
    with torch.no_grad():
        stepwise = torch.cat([net(idx[:, t : t + 1], caches) for t in range(BLOCK)], dim=1)
        assert torch.allclose(stepwise, net(idx), atol=1e-5)
    assert len(caches[0]) == BLOCK
    with pytest.raises(ValueError, match="block_size"):
        net(idx[:, :1], caches)


def test_the_explicit_mask_also_serves_several_new_positions_after_a_cache():
    """Query i of T new ones sits at position S - T + i: the written-out mask handles any T;
    the fused path's top-left mask would be wrong there, so it refuses."""
    idx = tokens()
    with torch.no_grad():
        for fast in (True, False):
            net = make_net(fast).eval()
            caches = net.new_caches()
            net(idx[:, :5], caches)
            if fast:
                with pytest.raises(ValueError, match="one position at a time"):
                    net(idx[:, 5:8], caches)
            else:
                assert torch.allclose(net(idx[:, 5:8], caches), net(idx)[:, 5:8], atol=1e-5)
