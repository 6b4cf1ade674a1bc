"""Noise schedules of denoising diffusion: the forward process, its posterior, and sampler steps.

The forward process adds Gaussian noise in T steps (Ho et al. 2020, eq. 2):

    q(x_t | x_{t-1}) = N(sqrt(1 - beta_t) x_{t-1}, beta_t I),        t = 1..T
    q(x_t | x_0)     = N(sqrt(alpha_bar_t) x_0, (1 - alpha_bar_t) I)  (eq. 4)
    alpha_t = 1 - beta_t,   alpha_bar_t = prod_{s<=t} alpha_s,   alpha_bar_0 = 1

and its posterior given x_0 is Gaussian too (eqs. 6-7):

    q(x_{t-1} | x_t, x_0) = N(mu~_t, beta~_t I)
    mu~_t    = sqrt(alpha_bar_{t-1}) beta_t / (1 - alpha_bar_t) x_0
               + sqrt(alpha_t) (1 - alpha_bar_{t-1}) / (1 - alpha_bar_t) x_t
    beta~_t  = (1 - alpha_bar_{t-1}) / (1 - alpha_bar_t) beta_t

A schedule is parameter-free (the diffusers design): it holds these tables and the closed-form
maps between x_0, x_t and the noise; a network only predicts the noise. Tables are indexed by
the paper's t, 1..T, with index 0 the clean data (alpha_bar_0 = 1, beta_0 = 0).
"""

from __future__ import annotations

import math

import torch
from torch import Tensor, nn

MAX_BETA = 0.999  # Nichol & Dhariwal 2021: betas near 1 make the last steps singular


# --- the science as pure functions of the tables (indexed by t, index 0 the clean data) -----
def at(table: Tensor, t: Tensor, like: Tensor) -> Tensor:
    """table[t] for t (n,), in like's dtype, shaped (n, 1, ..., 1) to broadcast against like."""
    return per_example(table[t], like)


def per_example(values: Tensor, like: Tensor) -> Tensor:
    """values (n,) in like's dtype, shaped (n, 1, ..., 1) to broadcast against like (n, ...)."""
    return values.to(like.dtype).view(-1, *([1] * (like.dim() - 1)))


def alpha_bar(betas: Tensor) -> Tensor:
    """alpha_bar_t = prod_{s<=t} (1 - beta_s): betas (T+1,) with betas[0] = 0 -> (T+1,), 1 at 0."""
    return torch.cumprod(1.0 - betas, 0)


def q_sample(x0: Tensor, t: Tensor, noise: Tensor, alpha_bar: Tensor) -> Tensor:
    """x_t ~ q(x_t | x_0) (Ho et al. eq. 4): sqrt(alpha_bar_t) x_0 + sqrt(1 - alpha_bar_t) noise.
    x0, noise (n, ...); t (n,) in 1..T; alpha_bar (T+1,)."""
    a = at(alpha_bar, t, x0)  # (n, 1, ..., 1)
    return a.sqrt() * x0 + (1.0 - a).sqrt() * noise


def posterior_mean_variance(
    x0: Tensor, xt: Tensor, t: Tensor, betas: Tensor, alpha_bar: Tensor
) -> tuple[Tensor, Tensor]:
    """Mean (n, ...) and variance (n, 1, ..., 1) of q(x_{t-1} | x_t, x_0) (eqs. 6-7):
    mu~ = sqrt(ab_{t-1}) beta_t / (1 - ab_t) x_0 + sqrt(1 - beta_t) (1 - ab_{t-1}) / (1 - ab_t) x_t,
    beta~ = (1 - ab_{t-1}) / (1 - ab_t) beta_t; t (n,) in 1..T."""
    beta, ab, ab_prev = betas[t], alpha_bar[t], alpha_bar[t - 1]  # (n,) each
    coef_x0 = ab_prev.sqrt() * beta / (1.0 - ab)
    coef_xt = (1.0 - beta).sqrt() * (1.0 - ab_prev) / (1.0 - ab)
    variance = beta * (1.0 - ab_prev) / (1.0 - ab)
    mean = per_example(coef_x0, x0) * x0 + per_example(coef_xt, xt) * xt
    return mean, per_example(variance, xt)


def predict_x0(xt: Tensor, t: Tensor, eps: Tensor, alpha_bar: Tensor) -> Tensor:
    """The x_0 implied by x_t and its noise eps: eq. 4 solved for x_0,
    (x_t - sqrt(1 - alpha_bar_t) eps) / sqrt(alpha_bar_t)."""
    a = at(alpha_bar, t, xt)
    return (xt - (1.0 - a).sqrt() * eps) / a.sqrt()


def simple_loss(eps_pred: Tensor, noise: Tensor) -> Tensor:
    """L_simple = mean ||eps - eps_theta(x_t, t)||^2 over every element (eq. 14), a scalar."""
    return (eps_pred - noise).pow(2).mean()


def reverse_mean(
    xt: Tensor, t: Tensor, eps_pred: Tensor, betas: Tensor, alpha_bar: Tensor
) -> Tensor:
    """mu_theta(x_t, t) = (x_t - beta_t / sqrt(1 - alpha_bar_t) eps_theta) / sqrt(alpha_t)
    (eq. 11): the posterior mean at x_0 = predict_x0(x_t, t, eps_theta)."""
    beta, a = at(betas, t, xt), at(alpha_bar, t, xt)
    alpha = at(1.0 - betas, t, xt)
    return (xt - beta / (1.0 - a).sqrt() * eps_pred) / alpha.sqrt()


def ancestral_step(
    xt: Tensor, t: Tensor, eps_pred: Tensor, betas: Tensor, alpha_bar: Tensor, noise: Tensor
) -> Tensor:
    """x_{t-1} = mu_theta(x_t, t) + sigma_t z with sigma_t^2 = beta~_t, the posterior variance
    (Algorithm 2, lines 3-4); z = `noise` for t > 1, none at t = 1. xt, eps_pred, noise (n, ...),
    t (n,) in 1..T."""
    beta, a, alpha = at(betas, t, xt), at(alpha_bar, t, xt), at(1.0 - betas, t, xt)
    mean = (xt - beta / (1.0 - a).sqrt() * eps_pred) / alpha.sqrt()  # mu_theta, eq. 11
    ab, ab_prev = alpha_bar[t], alpha_bar[t - 1]
    variance = betas[t] * (1.0 - ab_prev) / (1.0 - ab)  # beta~_t, (n,)
    last = (t == 1).view(-1, *([1] * (xt.dim() - 1)))
    return torch.where(last, mean, mean + per_example(variance, xt).sqrt() * noise)


class NoiseSchedule(nn.Module):
    """The tables of one schedule of T steps, and the maps built from them.

    An nn.Module only so that its tables follow the model across devices: it has no parameters
    and its buffers are not saved (nothing in it is learned).
    """

    def __init__(self, betas: Tensor) -> None:
        """betas (T,) for t = 1..T, each in (0, 1)."""
        super().__init__()
        self.num_steps = len(betas)
        betas = torch.cat([betas.new_zeros(1), betas.double()])  # (T+1,), index t
        cumulative = alpha_bar(betas)  # alpha_bar_0 = 1
        previous = torch.cat([cumulative.new_ones(1), cumulative[:-1]])  # index 0 unused
        one_minus = (1.0 - cumulative).clamp(min=1e-300)  # 0 at t = 0 only, where unused
        tables = {
            "betas": betas,
            "alphas": 1.0 - betas,
            "alpha_bar": cumulative,
            # beta~_t of q(x_{t-1} | x_t, x_0), eq. 7 (beta~_1 = 0: x_0 is known given x_1)
            "posterior_variance": betas * (1.0 - previous) / one_minus,
        }
        for name, value in tables.items():
            self.register_buffer(name, value, persistent=False)

    @classmethod
    def linear(cls, num_steps: int) -> NoiseSchedule:
        """Ho et al. (2020): betas linear from 1e-4 to 0.02 for T = 1000; for other T both ends
        scale by 1000 / T (Nichol & Dhariwal 2021), so alpha_bar_T stays near 0."""
        scale = 1000.0 / num_steps
        betas = torch.linspace(1e-4 * scale, 0.02 * scale, num_steps, dtype=torch.float64)
        return cls(betas.clamp(max=MAX_BETA))

    @classmethod
    def cosine(cls, num_steps: int, offset: float = 0.008) -> NoiseSchedule:
        """Nichol & Dhariwal (2021), eq. 17: alpha_bar_t = f(t) / f(0),
        f(t) = cos((t/T + s) / (1 + s) * pi/2)^2; beta_t = 1 - alpha_bar_t / alpha_bar_{t-1}."""
        t = torch.arange(num_steps + 1, dtype=torch.float64)
        f = torch.cos((t / num_steps + offset) / (1 + offset) * math.pi / 2) ** 2
        alpha_bar = f / f[0]
        return cls((1.0 - alpha_bar[1:] / alpha_bar[:-1]).clamp(max=MAX_BETA))

    @classmethod
    def log_snr_linear(
        cls, num_steps: int, log_snr_max: float, log_snr_min: float
    ) -> NoiseSchedule:
        """Kingma et al. (2021): the log signal-to-noise ratio log(alpha_bar_t / (1 - alpha_bar_t))
        falls linearly from log_snr_max at t = 1 to log_snr_min at t = T."""
        log_snr = torch.linspace(log_snr_max, log_snr_min, num_steps, dtype=torch.float64)
        alpha_bar = torch.sigmoid(log_snr)
        previous = torch.cat([alpha_bar.new_ones(1), alpha_bar[:-1]])
        return cls(1.0 - alpha_bar / previous)

    at = staticmethod(at)

    # --- training: the forward process in closed form ------------------------------------
    def add_noise(self, x0: Tensor, noise: Tensor, t: Tensor) -> Tensor:
        """x_t ~ q(x_t | x_0) (eq. 4): sqrt(alpha_bar_t) x_0 + sqrt(1 - alpha_bar_t) noise."""
        return q_sample(x0, t, noise, self.alpha_bar)

    def predict_x0(self, x_t: Tensor, eps: Tensor, t: Tensor) -> Tensor:
        """x_0 implied by x_t and its noise: eq. 4 solved for x_0."""
        return predict_x0(x_t, t, eps, self.alpha_bar)

    # --- the posterior and the reverse process -------------------------------------------
    def posterior(self, x0: Tensor, x_t: Tensor, t: Tensor) -> tuple[Tensor, Tensor]:
        """Mean (n, ...) and variance (n, 1, ..., 1) of q(x_{t-1} | x_t, x_0), eqs. 6-7."""
        return posterior_mean_variance(x0, x_t, t, self.betas, self.alpha_bar)

    def reverse_mean(self, x_t: Tensor, eps: Tensor, t: Tensor) -> Tensor:
        """mu_theta(x_t, t) of p(x_{t-1} | x_t) for a noise prediction eps (eq. 11)."""
        return reverse_mean(x_t, t, eps, self.betas, self.alpha_bar)

    def step(
        self,
        x_t: Tensor,
        eps: Tensor,
        t: int,
        variance: Tensor,
        generator: torch.Generator | None = None,
    ) -> Tensor:
        """One ancestral step x_t -> x_{t-1} ~ p(x_{t-1} | x_t) (Algorithm 2, lines 3-4):
        x_{t-1} = mu_theta(x_t, t) + sigma_t z, z ~ N(0, I) for t > 1, z = 0 at t = 1.

        variance: sigma_t^2 of the reverse process, the table of the model's choice indexed by t.
        """
        steps = torch.full((len(x_t),), t, device=x_t.device)
        mean = self.reverse_mean(x_t, eps, steps)
        if t == 1:
            return mean
        z = torch.randn(x_t.shape, generator=generator, device=x_t.device, dtype=x_t.dtype)
        return mean + self.at(variance, steps, x_t).sqrt() * z

    def ddim_step(
        self,
        x_t: Tensor,
        eps: Tensor,
        t: int,
        t_prev: int,
        eta: float = 0.0,
        generator: torch.Generator | None = None,
    ) -> Tensor:
        """One DDIM step x_t -> x_{t_prev}, t_prev < t (Song et al. 2021, eq. 12):

        x_{t_prev} = sqrt(alpha_bar_prev) x0_hat + sqrt(1 - alpha_bar_prev - sigma^2) eps
                     + sigma z,
        sigma^2 = eta^2 (1 - alpha_bar_prev) / (1 - alpha_bar_t) (1 - alpha_bar_t / alpha_bar_prev)
        (eq. 16). eta = 0 is deterministic; eta = 1 with t_prev = t - 1 is the ancestral step
        with variance beta~_t. t_prev = 0 returns x0_hat.
        """
        steps = torch.full((len(x_t),), t, device=x_t.device)
        x0_hat = self.predict_x0(x_t, eps, steps)
        alpha_bar = float(self.alpha_bar[t])
        alpha_bar_prev = float(self.alpha_bar[t_prev])
        sigma2 = eta**2 * (1 - alpha_bar_prev) / (1 - alpha_bar) * (1 - alpha_bar / alpha_bar_prev)
        x_prev = math.sqrt(alpha_bar_prev) * x0_hat + math.sqrt(1 - alpha_bar_prev - sigma2) * eps
        if sigma2 > 0:
            z = torch.randn(x_t.shape, generator=generator, device=x_t.device, dtype=x_t.dtype)
            x_prev = x_prev + math.sqrt(sigma2) * z
        return x_prev
