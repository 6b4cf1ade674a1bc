"""Denoising diffusion probabilistic model (Ho et al. 2020) and its variational bound.

Data levels are scaled to x_0 in [-1, 1]. The forward process q (genbench/schedules.py) noises
x_0 in T steps; the reverse process p(x_{t-1} | x_t) = N(mu_theta(x_t, t), sigma_t^2 I) denoises,
with mu_theta built from a U-Net's noise prediction eps_theta(x_t, t) (eq. 11) and a fixed
variance sigma_t^2, beta~_t or beta_t (`variance`). Training minimizes the "simple" loss (eq. 14)
with t uniform on 1..T:

    L_simple = E_{t, x_0, eps} || eps - eps_theta(x_t, t) ||^2,
    x_t = sqrt(alpha_bar_t) x_0 + sqrt(1 - alpha_bar_t) eps

The likelihood is the variational bound (eq. 5) on the probability of the discrete data:

    -log p(x_0) <= L_T + sum_{t=2}^{T} L_{t-1} + L_0
    L_T     = KL(q(x_T | x_0) || N(0, I))                                no network, ~0
    L_{t-1} = E_q KL(q(x_{t-1} | x_t, x_0) || p(x_{t-1} | x_t))           closed form given x_t
    L_0     = E_q -log p(x_0 | x_1)                               discretized Gaussian, eq. 13

computed over all T terms with one draw of x_t each, so `log_prob` costs T network passes, or
(`bound_steps: K`) estimated without bias from K steps stratified over 2..T plus L_0 and L_T,
kind `vlb-K`, at about K / T of the cost. Its randomness (the steps and the noise) comes from the
caller's generator or the global one, so a generative classifier that seeds it the same way for
every class compares the classes on the same draws (Li et al. 2023, Diffusion Classifier).

With `schedule: log_snr` the log signal-to-noise ratio falls linearly in t (Kingma et al.
2021), and with sigma_t^2 = beta~_t each KL term is the same multiple of the noise error,
L_{t-1} = (exp(log_snr_{t-1} - log_snr_t) - 1) / 2 * ||eps - eps_theta||^2: the simple loss
with t uniform is then the bound's own weighting, and training minimizes what is reported.

val_loss, which picks the checkpoint and stops training, is the same estimate in bits/dim on
the validation split (VAL_STEPS stratified steps per image), its noise
fixed across epochs so that epochs compare. Evaluation and sampling use an exponential moving
average of the weights (Ho et al. 2020). Samples are ancestral (Algorithm 2) over all T steps,
or DDIM (Song et al. 2021) over `sample_steps` steps when it is set; either ends rounded to
levels.
"""

from __future__ import annotations

import copy
import math
from dataclasses import dataclass
from typing import Literal

import torch
from torch import Tensor, nn

from genbench import schedules
from genbench.constraints import (
    Annotated,
    Field,
    NonNegativeFloat,
    PositiveFloat,
    PositiveInt,
    Probability,
)
from genbench.data.base import DataSpec
from genbench.errors import GenbenchError
from genbench.levels import levels_to_signed, signed_to_levels
from genbench.models.base import GenerativeModel
from genbench.nets.unet import UNet
from genbench.progress import Progress
from genbench.schedules import NoiseSchedule

LOG_SNR_MIN = -5.0  # log-SNR at t = T (Kingma et al. 2021): alpha_bar_T = sigmoid(-5) = 0.007
VAL_STEPS = 4  # timesteps per validation image in the bound estimate behind val_loss
VAL_SEED = 0  # the validation estimate's noise: the same every epoch, so epochs compare
# pixels of x_t per network pass when computing the bound. On a CPU larger passes ran slower
# (the full bound of 50 digits: about 1,000 images a pass twice as fast as 16,000; they stop
# fitting in cache; `benchmarks/bayes_ddpm.py --passes`); on an accelerator, the larger value,
# not measured here
VALUES_PER_PASS = 2**16
VALUES_PER_PASS_ACCELERATOR = 2**20


class DDPM(GenerativeModel):
    likelihood = "bound"
    needs_images = True
    log_prob_kind = "vlb"
    sampling_keys = ("sample_steps",)

    @dataclass
    class Config:
        timesteps: Annotated[int, Field(ge=2)]  # T
        schedule: Literal["log_snr", "linear", "cosine"]
        variance: Literal["posterior", "beta"]  # sigma_t^2 of p(x_{t-1} | x_t): beta~_t or beta_t
        channels: PositiveInt  # U-Net channels at full resolution, doubled at each halving
        dropout: Probability
        lr: PositiveFloat
        weight_decay: NonNegativeFloat
        ema_decay: Annotated[float, Field(ge=0, le=1)]  # EMA weights are evaluated and sampled
        sample_steps: PositiveInt | None  # None: ancestral DDPM over all T steps; N: DDIM, N steps
        bound_steps: PositiveInt | None  # None: the bound over all T terms; K: estimated, K steps

        def __post_init__(self) -> None:
            if self.sample_steps is not None and self.sample_steps > self.timesteps:
                raise GenbenchError(
                    f"model.sample_steps={self.sample_steps} is not valid: must be at most "
                    f"model.timesteps ({self.timesteps}) or null"
                )
            if self.bound_steps is not None and self.bound_steps > self.timesteps - 1:
                raise GenbenchError(
                    f"model.bound_steps={self.bound_steps} is not valid: must be at most "
                    f"model.timesteps - 1 ({self.timesteps - 1}, the steps 2..T) or null"
                )

    def __init__(self, spec: DataSpec, config: Config) -> None:
        super().__init__(spec, config)
        c = config
        if spec.num_levels is None or len(spec.shape) != 3:
            raise GenbenchError("ddpm needs discrete images (levels, shape C x H x W)")
        self.schedule = make_schedule(c.schedule, c.timesteps, spec.num_levels)
        s = self.schedule
        # sigma_t^2 of p(x_{t-1} | x_t) for t = 0..T; at t = 1 the decoder's, beta_1 for either
        # choice (beta~_1 = 0); derived from the schedule, so not saved
        variance = s.betas if c.variance == "beta" else s.posterior_variance
        reverse_variance = torch.cat([s.betas[:2], variance[2:]])
        self.register_buffer("reverse_variance", reverse_variance, persistent=False)
        self.net = UNet(spec.shape, spec.num_levels, c.channels, c.dropout)
        # the exponential moving average of the weights (Ho et al. 2020), kept as buffers: saved
        # and moved with the model, never trained, not counted as parameters
        self.ema = as_buffers(copy.deepcopy(self.net))

    # --- the pieces of the reverse process ------------------------------------------------
    def eps(self, x_t: Tensor, t: Tensor | int) -> Tensor:
        """The noise prediction eps_theta(x_t, t), (n, *shape); t (n,) or one step. Training
        uses the network being trained; evaluation (val_loss, the bound, sampling) its average."""
        if isinstance(t, int):
            t = torch.full((len(x_t),), t, device=x_t.device)
        return (self.net if self.training else self.ema)(x_t, t)

    # --- training ---------------------------------------------------------------------------
    def loss(self, x: Tensor) -> Tensor:
        """Training: the simple loss (eq. 14), mean over pixels, t uniform on 1..T.
        Evaluation (val_loss): the bound in bits/dim, estimated with noise fixed across
        epochs, so that checkpoints are picked by the figure that is reported."""
        if not self.training:
            generator = torch.Generator(device=x.device).manual_seed(VAL_SEED)
            return self.nats_to_bpd(self.bound_estimate(x, VAL_STEPS, generator)).mean()
        x0 = levels_to_signed(x.to(self.dtype), self.spec.num_levels)
        t = torch.randint(1, self.schedule.num_steps + 1, (len(x),), device=x.device)
        noise = torch.randn_like(x0)
        return schedules.simple_loss(self.eps(self.schedule.add_noise(x0, noise, t), t), noise)

    def on_train_batch_end(self, outputs: Tensor, batch: object, batch_idx: int) -> None:
        self.average_weights(self.global_step)

    def average_weights(self, step: int) -> None:
        """ema <- decay ema + (1 - decay) weights after `step` optimizer steps, the decay warmed
        up ((1 + n) / (10 + n) after n steps) so that the average forgets the initial weights."""
        decay = min(self.config.ema_decay, (1 + step) / (10 + step))
        averages = dict(self.ema.named_buffers())
        with torch.no_grad():
            for name, weight in self.net.named_parameters():
                averages[name].lerp_(weight, 1.0 - decay)

    def configure_optimizers(self) -> torch.optim.Optimizer:
        return torch.optim.AdamW(
            self.net.parameters(), lr=self.config.lr, weight_decay=self.config.weight_decay
        )

    # --- the variational bound ----------------------------------------------------------------
    def prior_term(self, x0: Tensor) -> Tensor:
        """L_T = KL(q(x_T | x_0) || N(0, I)), (n,) nats; no network."""
        t = torch.full((len(x0),), self.schedule.num_steps, device=x0.device)
        alpha_bar = self.schedule.at(self.schedule.alpha_bar, t, x0)
        mean, var = alpha_bar.sqrt() * x0, 1.0 - alpha_bar
        return gaussian_kl(mean, var, torch.zeros_like(x0), torch.ones_like(var)).flatten(1).sum(1)

    def step_terms(self, x: Tensor, t: Tensor, noise: Tensor) -> Tensor:
        """L_{t-1} for levels x (n, *shape) at steps t (n,), with x_t = sqrt(alpha_bar_t) x_0 +
        sqrt(1 - alpha_bar_t) noise, one draw of q(x_t | x_0): KL(q(x_{t-1} | x_t, x_0) ||
        p(x_{t-1} | x_t)) for t >= 2, -log p(x_0 | x_1) at t = 1. Returns (n,) nats."""
        s = self.schedule
        x0 = levels_to_signed(x.to(self.dtype), self.spec.num_levels)
        x_t = s.add_noise(x0, noise, t)
        mean = s.reverse_mean(x_t, self.eps(x_t, t), t)  # mu_theta(x_t, t), eq. 11
        var = s.at(self.reverse_variance, t, x0)  # sigma_t^2, (n, 1, 1, 1)
        posterior_mean, posterior_var = s.posterior(x0, x_t, t)
        kl = gaussian_kl(posterior_mean, posterior_var, mean, var)
        decoder = -discretized_gaussian_log_prob(x, mean, var.sqrt(), self.spec.num_levels)
        view = (-1, *([1] * (x.dim() - 1)))
        return torch.where(t.view(view) == 1, decoder, kl).flatten(1).sum(1)

    def log_prob(self, x: Tensor) -> Tensor:
        """(n,) nats: minus the bound L_T + sum_{t=2}^T L_{t-1} + L_0 (eq. 5), all T terms, one
        draw of x_t each, from the global random state."""
        return self.bound_estimate(x, self.schedule.num_steps - 1)

    def bound_estimate(
        self,
        x: Tensor,
        steps: int,
        generator: torch.Generator | None = None,
        progress: Progress | None = None,
    ) -> Tensor:
        """(n,) nats: minus L_T + L_0 + (T - 1) mean_j L_{t_j - 1}, an unbiased estimate of
        log_prob from `steps` = K steps t_j per image, stratified over 2..T (stratified_steps;
        K = T - 1 takes every step once: the bound itself). The steps and the noise are drawn
        from `generator` (None: the global random state), K + 1 rows of x_t in network passes of
        at most VALUES_PER_PASS pixels; `progress(done, total)` is told after each pass."""
        n, T = len(x), self.schedule.num_steps
        device = x.device
        offset = torch.rand((steps, n), generator=generator, device=device)
        t = torch.cat(
            [
                torch.ones(1, n, dtype=torch.long, device=device),  # t = 1: L_0
                stratified_steps(T, offset),
            ]
        )  # (K + 1, n)
        noise = torch.randn(
            (steps + 1, *x.shape), generator=generator, device=device, dtype=self.dtype
        )  # (K + 1, n, *shape)
        budget = VALUES_PER_PASS if device.type == "cpu" else VALUES_PER_PASS_ACCELERATOR
        rows = max(1, budget // (n * self.spec.dim))  # rows of x_t per network pass
        terms = []
        passes = list(zip(t.split(rows), noise.split(rows), strict=True))  # (r, n) each
        for index, (t_pass, noise_pass) in enumerate(passes):
            x_pass = x.repeat(len(t_pass), 1, 1, 1)  # (r n, *shape)
            terms.append(self.step_terms(x_pass, t_pass.flatten(), noise_pass.flatten(0, 1)))
            if progress is not None:
                progress(index + 1, len(passes))
        terms = torch.cat(terms).view(steps + 1, n)
        x0 = levels_to_signed(x.to(self.dtype), self.spec.num_levels)
        return -(self.prior_term(x0) + terms[0] + terms[1:].mean(0) * (T - 1))

    def log_prob_estimates(
        self, x: Tensor, num_samples: int, *, progress: Progress | None = None
    ) -> dict[str, Tensor]:
        """{"vlb": log_prob(x)}, or with `bound_steps` K {"vlb-K": its estimate from K steps}
        (num_samples, the IWAE draws of other models, does not apply); `progress` is told of
        each network pass."""
        k = self.config.bound_steps
        if k is None:
            return {"vlb": self.bound_estimate(x, self.schedule.num_steps - 1, None, progress)}
        return {f"vlb-{k}": self.bound_estimate(x, k, None, progress)}

    # --- sampling ---------------------------------------------------------------------------
    @torch.no_grad()
    def sample(
        self, n: int, generator: torch.Generator | None = None, progress: Progress | None = None
    ) -> Tensor:
        """(n, *shape) levels: ancestral sampling over all T steps (Algorithm 2) when
        `sample_steps` is None, else DDIM (Song et al. 2021, eta = 0) over that many steps;
        `progress(done, total)` is told after each step."""
        # Algorithm 2, line 1: x_T ~ N(0, I)
        shape = (n, *self.spec.shape)
        x = torch.randn(shape, generator=generator, device=self.device, dtype=self.dtype)
        T = self.schedule.num_steps
        s = self.schedule
        if self.config.sample_steps is None and self.config.variance == "posterior":
            for t in range(T, 0, -1):  # line 2: for t = T, ..., 1
                # line 3: z ~ N(0, I) if t > 1, else z = 0
                z = (
                    torch.randn(shape, generator=generator, device=x.device, dtype=x.dtype)
                    if t > 1
                    else torch.zeros_like(x)
                )
                # line 4: x_{t-1} = mu_theta(x_t, t) + sigma_t z
                steps = torch.full((n,), t, device=x.device)
                x = schedules.ancestral_step(x, steps, self.eps(x, t), s.betas, s.alpha_bar, z)
                if progress is not None:
                    progress(T - t + 1, T)
        elif self.config.sample_steps is None:  # the same, sigma_t^2 = beta_t
            for t in range(T, 0, -1):
                x = s.step(x, self.eps(x, t), t, self.reverse_variance, generator)
                if progress is not None:
                    progress(T - t + 1, T)
        else:
            # DDIM on the sub-sequence tau: T = tau_N > ... > tau_1 = 1, then x_0 (eq. 12)
            tau = torch.linspace(T, 1, self.config.sample_steps).round().long().tolist()
            for i, (t, t_prev) in enumerate(zip(tau, [*tau[1:], 0], strict=True)):
                x = self.schedule.ddim_step(x, self.eps(x, t), t, t_prev, 0.0, generator)
                if progress is not None:
                    progress(i + 1, len(tau))
        return signed_to_levels(x, self.spec.num_levels)  # line 6: return x_0, as levels


def as_buffers(module: nn.Module) -> nn.Module:
    """`module` with each parameter turned into a buffer of the same name: it computes the same
    function, is saved and moved with its owner, and is neither trained nor counted."""
    for sub in module.modules():
        for name, weight in list(sub.named_parameters(recurse=False)):
            delattr(sub, name)
            sub.register_buffer(name, weight.detach().clone())
    return module


def make_schedule(kind: str, num_steps: int, num_levels: int) -> NoiseSchedule:
    """The noise schedule for data with `num_levels` levels on [-1, 1].

    log_snr: from log-SNR LOG_SNR_MIN at t = T up to the point where the noise at t = 1 is a
    quarter of the levels' half-spacing 1 / (L - 1): the decoder p(x_0 | x_1) then finds the
    right level with probability near 1 even before the network learns it (2 Phi(4) - 1 for a
    noise-free mean), and no step is spent on noise far finer than the data.
    """
    if kind == "linear":
        return NoiseSchedule.linear(num_steps)
    if kind == "cosine":
        return NoiseSchedule.cosine(num_steps)
    sigma_1 = 0.25 / (num_levels - 1)
    log_snr_max = math.log((1 - sigma_1**2) / sigma_1**2)
    return NoiseSchedule.log_snr_linear(num_steps, log_snr_max, LOG_SNR_MIN)


def stratified_steps(num_steps: int, offset: Tensor) -> Tensor:
    """Steps t (K, n) in 2..T, the j-th on the j-th of K equal strata of [2, T + 1):
    t_j = 2 + floor((j + u_j) (T - 1) / K), u = offset (K, n) uniform on [0, 1).

    Over a uniform u each t_j covers its stratum's steps in proportion to their share of it,
    so (T - 1) mean_j f(t_j) is unbiased for sum_{t=2}^T f(t); with K = T - 1 it is the sum.
    """
    k = len(offset)
    strata = torch.arange(k, device=offset.device).view(-1, 1)
    return 2 + ((strata + offset) * (num_steps - 1) / k).long()


def gaussian_kl(mean1: Tensor, var1: Tensor, mean2: Tensor, var2: Tensor) -> Tensor:
    """KL(N(mean1, var1) || N(mean2, var2)) per element, in nats."""
    return 0.5 * (torch.log(var2 / var1) + (var1 + (mean1 - mean2) ** 2) / var2 - 1.0)


def discretized_gaussian_log_prob(
    levels: Tensor, mean: Tensor, std: Tensor, num_levels: int
) -> Tensor:
    """log P(level) per element under N(mean, std^2) on the [-1, 1] scale, integrated over each
    level's bin, center +- 1 / (L - 1), the outer bins extended to -inf and +inf (Ho et al.
    2020, eq. 13), so the L probabilities sum to 1.

    levels (n, ...) ints in [0, L); mean and std broadcast against them.
    """
    center = levels_to_signed(levels.to(mean.dtype), num_levels)
    half_bin = 1.0 / (num_levels - 1)
    lower = (center - half_bin - mean) / std  # standardized bin edges
    upper = (center + half_bin - mean) / std
    # log(Phi(upper) - Phi(lower)) without cancellation: when the bin lies above the mean, use
    # the mirror image Phi(-lower) - Phi(-upper), whose terms are small instead of near 1
    above = lower > 0
    a = torch.where(above, -upper, lower)
    b = torch.where(above, -lower, upper)
    log_b = torch.special.log_ndtr(b)
    log_mass = log_b + torch.log(-torch.expm1(torch.special.log_ndtr(a) - log_b).clamp(max=-1e-30))
    first = levels == 0
    last = levels == num_levels - 1
    log_below = torch.special.log_ndtr(upper)  # the lowest level: P(X <= its upper edge)
    log_above = torch.special.log_ndtr(-lower)  # the highest: P(X > its lower edge)
    return torch.where(first, log_below, torch.where(last, log_above, log_mass))
