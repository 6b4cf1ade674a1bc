"""Every metric a run stores: its name, its label, which way is better and how it is printed.

The one table of these facts: the CLI's summary of a run, the report's columns (and which cell
is the best of its column) and `genbench results` (its column order) all read it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

Direction = Literal["lower", "higher"] | None


@dataclass(frozen=True)
class Metric:
    name: str  # the key in result.json's metrics
    label: str  # a table's column header
    direction: Direction  # which values are better; None: neither (a count, a name)
    fmt: str  # format spec of one value, e.g. ".4f"
    summary: str | None = None  # the wording of the CLI summary's line, if it has one
    in_space: bool = False  # measured in a feature space: the summary names the space

    @property
    def arrow(self) -> str:
        """'↓' where lower is better, '↑' where higher is, '' for neither."""
        return {"lower": "↓", "higher": "↑"}.get(self.direction or "", "")

    @property
    def definition(self) -> str | None:
        """The report's line under a table ({space}: the feature space), if it has one."""
        return DEFINITIONS.get(self.name)

    def format(self, value: object) -> str:
        if self.fmt in ("d", ",") and isinstance(value, float) and value.is_integer():
            value = int(value)  # a count read back from a table column of floats
        return format(value, self.fmt)


M = Metric
# in the order `genbench results` shows them; the summary's lines follow this order too
METRICS: tuple[Metric, ...] = (
    M("bpd_kind", "bpd kind", None, "s"),
    M("bpd", "bpd", "lower", ".3f"),  # the summary prints bpd lines of its own, with ± se
    M("bpd_se", "bpd se", None, ".4f"),
    M("bpd_iwae", "bpd (iwae)", "lower", ".4f"),
    M("bpd_iwae_se", "bpd (iwae) se", None, ".4f"),
    M("bpd_iwae_k", "iwae K", None, "d"),
    M("entropy_bpd", "true entropy", None, ".4f"),
    M("entropy_gap", "entropy gap", "lower", "+.4f"),
    M("entropy_gap_iwae", "entropy gap (iwae)", "lower", "+.4f"),
    M("entropy_rate_bpc", "entropy rate", None, ".4f", "true entropy rate (bits/token)"),
    M("bits_per_byte", "bits/byte", "lower", ".4f", "test bits per byte"),
    M("recon_bpd", "recon bpd", "lower", ".4f", "recon bpd"),
    M("recon_bpd_se", "recon bpd se", None, ".4f"),
    M("recon_mse", "recon mse", "lower", ".5f", "recon mse"),
    M("fd", "FD", "lower", ".3f", "fd", in_space=True),
    M("kd", "KD", "lower", ".3f", "kd", in_space=True),
    M("precision", "precision", "higher", ".3f"),
    M("recall", "recall", "higher", ".3f"),
    M("density", "density", "higher", ".3f"),
    M("coverage", "coverage", "higher", ".3f"),
    M("classifier_score", "classifier score", "higher", ".3f", "classifier score"),
    M("memorized_fraction", "memorized", "lower", ".3f", "memorized"),
    M("accuracy", "accuracy", "higher", ".4f", "test accuracy"),
    M("nll", "NLL", "lower", ".4f", "test nll"),
    M("ece", "ECE", "lower", ".4f", "test ece"),
    M("f1_macro", "F1 (macro)", "higher", ".4f", "test f1 (macro)"),
    M("likelihood_kind", "likelihood kind", None, "s"),
    M("samples_per_second", "samples / s", "higher", ",.0f", "samples / s"),
    M("params", "params", "lower", ",.0f", "params"),
    M("support_vectors", "support vectors", None, ",", "support vectors"),
    M("stored_examples", "stored examples", None, ",", "stored examples"),
    M("train_seconds", "train s", "lower", ".1f"),
    M("epochs", "epochs", None, "d"),
    M("best_epoch", "best epoch", None, "d"),
    M("steps", "steps", None, "d"),
    M("fit_seconds", "fit s", "lower", ".2f"),
    M("predict_seconds", "predict s", "lower", ".3f"),
)
del M
BY_NAME: dict[str, Metric] = {m.name: m for m in METRICS}
# what each of the report's columns measures, printed under its table
DEFINITIONS = {
    "bpd": "test negative log-likelihood in bits per dimension; its kind beside it (exact, or "
    "a bound such as elbo, which is never below the exact value)",
    "entropy_bpd": "the data's true entropy in bits per dimension, known for this dataset: no "
    "model's exact bpd can be below it",
    "entropy_gap": "bpd minus the true entropy: 0 is the best any model can do",
    "entropy_rate_bpc": "a sequence's true entropy per token in the long run; a window's first "
    "tokens, predicted with less context, cost more, so bpd stays a little above it",
    "bits_per_byte": "the model's total bits on the test text over its UTF-8 bytes: compares "
    "models whatever their tokenization",
    "fd": "Fréchet distance between Gaussians fitted to the samples' and the test images' "
    "features ({space})",
    "kd": "kernel distance: squared MMD, cubic polynomial kernel, between the samples' and the "
    "test images' features ({space})",
    "precision": "share of samples inside the test images' 3-NN manifold ({space}); a collapsed "
    "model scores high here, so a variant whose recall is under 0.05 or undefined (its samples "
    "repeat) is not marked best",
    "recall": "share of test images inside the samples' 3-NN manifold ({space})",
    "memorized_fraction": "share of samples closer to a training image than any test image is "
    "(pixels)",
    "params": "trainable parameters",
    "train_seconds": "wall-clock training time on the run's device, evaluation excluded",
    "accuracy": "share of test examples given their true class",
    "nll": "mean negative log-probability of the true class, in nats per test example",
    "ece": "expected calibration error: |accuracy - confidence| over 15 equal-width confidence "
    "bins, weighted by their counts",
    "fit_seconds": "wall-clock time to fit on the training data",
}
# every kind of likelihood estimate (`bpd_kind`, a generative classifier's `likelihood_kind`),
# K standing for the number in its name (iwae-100, vlb-50); printed under a table's bpd column
LIKELIHOOD_KINDS = {
    "exact": "log p(x) itself",
    "elbo": "the evidence lower bound, one draw of z ~ q(z|x) per image",
    "iwae-K": "the importance-weighted bound from K draws of z ~ q(z|x) (Burda et al. 2016), "
    "tighter than the elbo, tighter as K grows",
    "vlb": "the diffusion's variational bound L_T + sum_t L_{t-1} + L_0 over all T steps, one "
    "draw of x_t per step (Ho et al. 2020)",
    "vlb-K": "an unbiased estimate of vlb from K of its steps, stratified over 2..T, with L_0 "
    "and L_T: the same bound on average, noisier per image, about K / T of its cost",
    "dequantized": "the uniform dequantization bound log p(x + u), one u ~ U[0, 1)^D per image",
    "dequantized-iw-K": "the importance-weighted dequantization bound from K draws of a learned "
    "q(u|x) (Ho et al. 2019)",
}


def kind_definition(kind: str) -> str | None:
    """The definition of a likelihood kind such as 'iwae-100' (entry 'iwae-K'), if known."""
    stem, _, number = kind.rpartition("-")
    return LIKELIHOOD_KINDS.get(f"{stem}-K" if number.isdigit() else kind)


# pairs the summary prints on one line ("precision / recall (features)  0.71 / 0.80")
PAIRS = (("precision", "recall"), ("density", "coverage"))

# the report's columns, in order, for each kind of run
GENERATIVE_COLUMNS = (
    "bpd", "entropy_bpd", "entropy_gap", "fd", "kd", "precision", "recall", "memorized_fraction",
    "params", "train_seconds",
)  # fmt: skip
CLASSIFIER_COLUMNS = ("accuracy", "nll", "ece", "fit_seconds")


def metric(name: str) -> Metric:
    return BY_NAME[name]
