"""Hidden Markov model over tokens: an exact likelihood by the forward algorithm.

An example's D levels are tokens x_1..x_T (T = D, flattened: raster order for images). A hidden
state z_t in {1..S} follows a Markov chain and emits x_t from a categorical of its own:

    p(x) = sum_z pi[z_1] B[z_1, x_1] prod_{t=2..T} A[z_{t-1}, z_t] B[z_t, x_t]

over all S^T paths z, summed exactly by the forward recursion in O(T S^2) (Rabiner, 1989),
in log space so that long sequences do not underflow. pi, A, B are softmaxes of free logits,
trained by gradient descent (AdamW) on the exact negative log-likelihood, minibatch by
minibatch, in the same Lightning loop, early stopping and checkpointing as every other model.
(Baum-Welch EM would need passes over the whole split and a loop of its own; the gradient of
log p(x) with respect to log A and log B is the expected transition and emission counts under
the posterior, the very quantities of EM's E-step (Eisner, 2016), so both climb the same
likelihood.) Sampling is ancestral: z_1 ~ pi, x_t ~ B[z_t], z_{t+1} ~ A[z_t].
`model.conditional: true` gives one HMM per class, p(x|y), all trained at once.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from genbench.constraints import NonNegativeFloat, PositiveFloat, PositiveInt
from genbench.data.base import DataSpec
from genbench.errors import GenbenchError
from genbench.models.base import ExactLikelihood

Params = tuple[Tensor, Tensor, Tensor]  # log pi, log A, log B


def forward_log_likelihood(log_pi: Tensor, log_A: Tensor, log_B: Tensor, x: Tensor) -> Tensor:
    """log p(x) of each sequence under an HMM, by the forward algorithm in log space:

        log alpha_1(j) = log pi[j] + log B[j, x_1]
        log alpha_t(j) = logsumexp_i (log alpha_{t-1}(i) + log A[i, j]) + log B[j, x_t]
        log p(x)       = logsumexp_j log alpha_T(j)

    with alpha_t(j) = p(x_1..x_t, z_t = j). log_pi (S,), log_A (S, S) (row i: from state i),
    log_B (S, L), or each with a leading (n,) of per-sequence parameters; x (n, T) ints in
    [0, L) -> (n,) nats. Time O(n T S^2); autograd keeps an (n, S, S) tensor per step.
    """
    n, T = x.shape
    S, L = log_B.shape[-2:]
    # emit[:, j, t] = log B[j, x_t]
    emit = log_B.expand(n, S, L).gather(2, x.long().unsqueeze(1).expand(n, S, T))  # (n, S, T)
    log_alpha = log_pi + emit[:, :, 0]  # (n, S)
    for t in range(1, T):
        log_alpha = torch.logsumexp(log_alpha.unsqueeze(2) + log_A, dim=1) + emit[:, :, t]
    return torch.logsumexp(log_alpha, dim=1)  # (n,)


def sample_hmm(
    log_pi: Tensor, log_A: Tensor, log_B: Tensor, n: int, T: int, generator: torch.Generator | None
) -> Tensor:
    """n sequences of T tokens by ancestral sampling: z_1 ~ pi, then x_t ~ B[z_t] and
    z_{t+1} ~ A[z_t]. Parameters as in forward_log_likelihood (shared, or per sequence with a
    leading (n,)) -> (n, T) long tokens in [0, L)."""
    S, L = log_B.shape[-2:]
    rows = torch.arange(n, device=log_B.device)
    pi, A, B = log_pi.exp().expand(n, S), log_A.exp().expand(n, S, S), log_B.exp().expand(n, S, L)
    z = torch.multinomial(pi, 1, generator=generator)[:, 0]  # (n,)
    x = torch.empty((n, T), dtype=torch.long, device=log_B.device)
    for t in range(T):
        x[:, t] = torch.multinomial(B[rows, z], 1, generator=generator)[:, 0]
        if t + 1 < T:
            z = torch.multinomial(A[rows, z], 1, generator=generator)[:, 0]
    return x


class HMM(ExactLikelihood):
    @dataclass
    class Config:
        states: PositiveInt  # hidden states S
        lr: PositiveFloat  # AdamW, on the logits of pi, A and B
        weight_decay: NonNegativeFloat  # AdamW: pulls the logits toward 0 (uniform rows)
        conditional: bool  # p(x|y): one HMM per class (labelled data)

    def __init__(self, spec: DataSpec, config: Config) -> None:
        super().__init__(spec, config)
        if spec.num_levels is None:
            raise GenbenchError("the hmm models discrete data; this dataset is continuous")
        S, L = config.states, spec.num_levels
        K = spec.num_classes if self.conditional else 1  # one HMM per class, or one
        # random logits break the symmetry between states (equal ones would stay equal)
        self.pi_logits = nn.Parameter(torch.randn(K, S))
        self.A_logits = nn.Parameter(torch.randn(K, S, S))
        self.B_logits = nn.Parameter(torch.randn(K, S, L))

    def log_params(self, y: Tensor | None = None) -> Params:
        """log pi (S,), log A (S, S), log B (S, L); given labels y (n,) of a conditional model,
        each class's, with a leading (n,)."""
        logits = (self.pi_logits, self.A_logits, self.B_logits)
        params = [F.log_softmax(p, dim=-1) for p in logits]  # each (K, ...)
        return tuple(p[0] if y is None else p[y] for p in params)

    def log_prob(self, x: Tensor, y: Tensor | None = None) -> Tensor:
        """(n,) nats: exact log p(x) by the forward algorithm (log p(x|y) given labels); a
        conditional model without labels sums over the classes, log sum_y p(y) p(x|y)."""
        if self.conditional and y is None:
            return self.marginalize_classes(lambda y: {"exact": self.log_prob(x, y)}, len(x))[
                "exact"
            ]
        return forward_log_likelihood(*self.log_params(y), x.flatten(1))

    @torch.no_grad()
    def sample(
        self, n: int, generator: torch.Generator | None = None, y: Tensor | None = None
    ) -> Tensor:
        """Ancestral draws; a conditional model without labels draws them from its prior."""
        if self.conditional and y is None:
            y = self.sample_classes(n, generator)
        x = sample_hmm(*self.log_params(y), n, self.spec.dim, generator)
        return x.view(n, *self.spec.shape)
