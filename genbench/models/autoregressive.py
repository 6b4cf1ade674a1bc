"""What the autoregressive models of token sequences share (transformer, rnn): the chain rule.

An example's D levels are tokens x_1..x_D (flattened: raster order for images, as they are for
sequences), and

    log p(x) = sum_t log p(x_t | x_<t)

with every conditional a categorical over the L levels, read off a network at position t. The
network's input is the sequence shifted right behind a start token (the input vocabulary is the
levels, then one start token), so position t has seen x_<t only: one pass gives all D
conditionals (training, log_prob); sampling draws one token after another, carrying the
network's state from step to step (a key/value cache, a recurrent hidden state).

For p(x|y) (`model.conditional`) the class y enters at every position: a learned class
embedding added to each token's input embedding (as the conditional PixelCNN adds its class
vector at every position; van den Oord et al., 2016). A start token per class alone carries y
through 784 steps of an image only if the network learns to keep it, which a few epochs did
not teach (bayes-rnn with start tokens alone named one class for every MNIST image; on digits
the class at every position took it from 0.849 to 0.982 test accuracy).
"""

from __future__ import annotations

from typing import Any

import torch
from torch import Tensor, nn

from genbench.data.base import DataSpec
from genbench.distributions import Categorical
from genbench.errors import GenbenchError
from genbench.models.base import ExactLikelihood
from genbench.progress import Progress


class Autoregressive(ExactLikelihood):
    """A model of the D tokens by the chain rule; a subclass gives the network (`next_logits`)
    and a Config with `temperature` (sampling only) and `conditional`."""

    sampling_keys = ("temperature",)  # genbench sample may change it on a stored run

    def __init__(self, spec: DataSpec, config: Any) -> None:
        super().__init__(spec, config)
        if spec.num_levels is None:
            name = type(self).__name__.lower()
            raise GenbenchError(f"the {name} models discrete data; this dataset is continuous")
        self.output = Categorical(spec.num_levels)
        # an input-only start token after the levels 0..L-1
        self.start_token = spec.num_levels
        self.vocab_size = spec.num_levels + 1

    def class_embedding(self, width: int) -> nn.Embedding | None:
        """The class embedding (classes, width) of a conditional model, None otherwise;
        a subclass adds it to every position's input (`next_logits`' y)."""
        return nn.Embedding(self.spec.num_classes, width) if self.conditional else None

    # --- the network: subclasses implement these ---------------------------------------
    def next_logits(
        self, tokens: Tensor, state: Any = None, y: Tensor | None = None
    ) -> tuple[Tensor, Any]:
        """tokens (n, T) continuing the sequence `state` holds (None: from the start), of
        classes y (n,) for a conditional model -> logits (n, T, L) of the token after each, and
        the state after the last."""
        raise NotImplementedError

    def initial_state(self) -> Any:
        """The state sampling starts from (None: the network's own default)."""
        return None

    # --- the chain rule ----------------------------------------------------------------
    def start(self, n: int) -> Tensor:
        """(n, 1) start tokens."""
        return torch.full((n, 1), self.start_token, dtype=torch.long, device=self.device)

    def shifted(self, x: Tensor) -> Tensor:
        """x (n, *shape) levels -> (n, D) input tokens: the start token, then x_1..x_{D-1}."""
        tokens = x.flatten(1).long()  # (n, D), raster order
        return torch.cat([self.start(len(x)), tokens[:, :-1]], dim=1)

    def logits(self, x: Tensor, y: Tensor | None = None) -> Tensor:
        """x (n, *shape) levels -> (n, D, L) logits; position t gives p(x_t | x_<t[, y])."""
        return self.next_logits(self.shifted(x), None, y)[0]

    def log_prob(self, x: Tensor, y: Tensor | None = None) -> Tensor:
        """(n,) nats: exact log p(x) (or log p(x|y) given labels), the sum of the D
        conditionals' log-probabilities; a conditional model without labels sums over the
        classes, log p(x) = log sum_y p(y) p(x|y), still exact."""
        if self.conditional and y is None:
            return self.marginalize_classes(lambda y: {"exact": self.log_prob(x, y)}, len(x))[
                "exact"
            ]
        return self.output.log_prob(self.logits(x, y), x.flatten(1))

    @torch.no_grad()
    def sample(
        self,
        n: int,
        generator: torch.Generator | None = None,
        y: Tensor | None = None,
        progress: Progress | None = None,
    ) -> Tensor:
        """Draw x_1, x_2, ... in order, each from p(x_t | x_<t) with its logits divided by the
        temperature, the network's state carrying the earlier positions. A conditional model
        without labels draws them from its class prior. `progress(done, D)` is told after
        each position."""
        if self.conditional and y is None:
            y = self.sample_classes(n, generator)
        state = self.initial_state()
        token = self.start(n)
        x = torch.empty((n, self.spec.dim), dtype=torch.long, device=self.device)
        for t in range(self.spec.dim):
            logits, state = self.next_logits(token, state, y)  # (n, 1, L)
            token = self.output.sample(logits / self.config.temperature, generator)  # (n, 1)
            x[:, t] = token[:, 0]
            if progress is not None:
                progress(t + 1, self.spec.dim)
        return x.view(n, *self.spec.shape)

    def configure_optimizers(self) -> dict[str, Any]:
        """AdamW with weight decay on the weight matrices and embeddings (every parameter of 2
        or more dimensions; biases and LayerNorm gains are exempt, as in nanoGPT) and a one-cycle
        schedule (Smith and Topin, 2019) over the whole run, stepped per batch: `model.lr` is
        its peak."""
        params = [p for p in self.parameters() if p.requires_grad]
        groups = [
            {
                "params": [p for p in params if p.dim() >= 2],
                "weight_decay": self.config.weight_decay,
            },
            {"params": [p for p in params if p.dim() < 2], "weight_decay": 0.0},
        ]
        optimizer = torch.optim.AdamW(groups, lr=self.config.lr)
        scheduler = torch.optim.lr_scheduler.OneCycleLR(
            optimizer,
            max_lr=self.config.lr,
            total_steps=int(self.trainer.estimated_stepping_batches),
        )
        return {
            "optimizer": optimizer,
            "lr_scheduler": {"scheduler": scheduler, "interval": "step"},
        }
