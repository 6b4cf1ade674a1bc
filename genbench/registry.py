"""Name -> component tables for datasets and models: the only place a CLI name is bound to code.

Entries are import paths so that `genbench list` and config validation do not import torch or
Lightning for components they do not use.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from typing import Any

from genbench.errors import GenbenchError, unknown_choice


@dataclass(frozen=True)
class Entry:
    """One registered component: where it lives and what it is, in a line."""

    target: str  # "package.module:Attribute"
    summary: str
    # the config sections its runs read: a setting elsewhere (an SVM's eval.iwae_k) does nothing
    reads: tuple[str, ...] = ("model", "data", "trainer", "eval")
    # datasets only: the family whose model presets it uses, configs/models/<family>/<model>.yaml
    # (what differs from configs/models/<model>.yaml for data of that scale); None: the model's
    family: str | None = None

    def load(self) -> Any:
        module, _, attr = self.target.partition(":")
        return getattr(importlib.import_module(module), attr)


DATASETS: dict[str, Entry] = {
    "digits": Entry(
        "genbench.data.digits:Digits",
        "scikit-learn's 8x8 digits, 17 levels, 10 classes; 1077/270/450 split (embedded)",
    ),
    "bars": Entry(
        "genbench.data.bars:Bars",
        "bars and stripes on an n x n grid, 2 levels; true entropy known (synthetic)",
    ),
    "markov": Entry(
        "genbench.data.markov:Markov",
        "windows of a random order-k Markov chain over a small alphabet; exact entropy (synthetic)",
    ),
    "text": Entry(
        "genbench.data.text:Text",
        "a local UTF-8 text file (data.path), characters or byte-level BPE, contiguous split",
    ),
    "mnist": Entry(
        "genbench.data.mnist:MNIST",
        "MNIST handwritten digits, 28x28, 256 levels",
        family="mnist",
    ),
    "fashion-mnist": Entry(
        "genbench.data.mnist:FashionMNIST",
        "Fashion-MNIST clothing images, 28x28, 256 levels",
        family="mnist",
    ),
    "kmnist": Entry(
        "genbench.data.mnist:KMNIST",
        "Kuzushiji-MNIST characters, 28x28, 256 levels",
        family="mnist",
    ),
    "binarized-mnist": Entry(
        "genbench.data.binarized:BinarizedMNIST",
        "MNIST with 0/1 pixels (data.binarize: threshold or sample), 28x28, 2 levels",
        family="mnist",
    ),
    "cifar10": Entry(
        "genbench.data.cifar:CIFAR10", "CIFAR-10 colour images, 3x32x32, 256 levels, 10 classes"
    ),
    "iris": Entry("genbench.data.tabular:Iris", "iris flowers: 4 continuous features, 3 classes"),
    "wine": Entry("genbench.data.tabular:Wine", "wines: 13 continuous features, 3 classes"),
    "breast-cancer": Entry(
        "genbench.data.tabular:BreastCancer",
        "breast cancer diagnosis: 30 continuous features, 2 classes",
    ),
}

MODELS: dict[str, Entry] = {
    "ddpm": Entry("genbench.models.ddpm:DDPM", "denoising diffusion (U-Net); variational bound"),
    "gan": Entry("genbench.models.gan:GAN", "GAN (DCGAN conv nets), NS or WGAN-GP; no likelihood"),
    "ae": Entry(
        "genbench.models.autoencoder:Autoencoder",
        "deterministic autoencoder; samples from a Gaussian mixture fitted to its latents",
    ),
    "vae": Entry(
        "genbench.models.vae:VAE",
        "variational autoencoder (MLP); ELBO and IWAE bounds on log p(x)",
    ),
    "transformer": Entry(
        "genbench.models.transformer:Transformer",
        "decoder-only transformer over pixels in raster order; exact log p(x)",
    ),
    "rnn": Entry(
        "genbench.models.rnn:RNN",
        "autoregressive LSTM or GRU over the tokens in raster order; exact log p(x)",
    ),
    "hmm": Entry(
        "genbench.models.hmm:HMM",
        "hidden Markov model over the tokens, categorical emissions; exact log p(x) (forward)",
    ),
    "flow": Entry(
        "genbench.models.flow:Flow",
        "RealNVP/Glow normalizing flow (multi-scale affine couplings); dequantization bound",
    ),
}

SKLEARN = ("model", "data")  # fitted by scikit-learn: no trainer, no generative evaluation
LIGHTNING = ("model", "data", "trainer")  # trained by Lightning, scored as classifiers
CLASSIFIERS: dict[str, Entry] = {
    "naive-bayes": Entry(
        "genbench.classifiers.sklearn:NaiveBayes",
        "naive Bayes, variant gaussian / multinomial / bernoulli / categorical (scikit-learn)",
        reads=SKLEARN,
    ),
    "logreg": Entry(
        "genbench.classifiers.sklearn:LogReg", "logistic regression (scikit-learn)", reads=SKLEARN
    ),
    "svm": Entry(
        "genbench.classifiers.sklearn:SVM",
        "RBF support vector machine (scikit-learn)",
        reads=SKLEARN,
    ),
    "knn": Entry(
        "genbench.classifiers.sklearn:KNN", "k nearest neighbours (scikit-learn)", reads=SKLEARN
    ),
    "lda": Entry(
        "genbench.classifiers.sklearn:LDA",
        "linear discriminant analysis (scikit-learn)",
        reads=SKLEARN,
    ),
    "qda": Entry(
        "genbench.classifiers.sklearn:QDA",
        "quadratic discriminant analysis, regularized (scikit-learn)",
        reads=SKLEARN,
    ),
    "mlp": Entry(
        "genbench.classifiers.neural:MLPClassifier",
        "multilayer perceptron (Lightning)",
        reads=LIGHTNING,
    ),
    "cnn": Entry(
        "genbench.classifiers.neural:CNNClassifier",
        "small convolutional net (Lightning)",
        reads=LIGHTNING,
    ),
    "bayes-vae": Entry(
        "genbench.classifiers.bayes:BayesVAE",
        "generative classifier: conditional VAE p(x|y), Bayes' rule with its IWAE bound",
    ),
    "bayes-transformer": Entry(
        "genbench.classifiers.bayes:BayesTransformer",
        "generative classifier: conditional transformer p(x|y), Bayes' rule, exact likelihood",
    ),
    "bayes-rnn": Entry(
        "genbench.classifiers.bayes:BayesRNN",
        "generative classifier: conditional LSTM p(x|y), Bayes' rule, exact likelihood",
    ),
    "bayes-hmm": Entry(
        "genbench.classifiers.bayes:BayesHMM",
        "generative classifier: one HMM per class, Bayes' rule with the forward algorithm",
    ),
    "bayes-ddpm": Entry(
        "genbench.classifiers.bayes:BayesDDPM",
        "generative classifier: one DDPM per class, Bayes' rule with the variational bound",
    ),
    "bayes-flow": Entry(
        "genbench.classifiers.bayes:BayesFlow",
        "generative classifier: a flow per class, or one conditional flow (MNIST), Bayes' rule",
    ),
}

TABLES = {"dataset": DATASETS, "model": {**MODELS, **CLASSIFIERS}}


def lookup(kind: str, name: str) -> Entry:
    """The entry registered under `name` in the `kind` table; a GenbenchError names the choices."""
    table = TABLES[kind]
    if name not in table:
        base = name.removeprefix("bayes-")
        if kind == "model" and base != name and base in MODELS:
            bayes = ", ".join(n for n in CLASSIFIERS if n.startswith("bayes-"))
            raise GenbenchError(
                f"{name}: a generative classifier needs a model with a likelihood (exact or a "
                f"bound) and {base} has none; choose one of: {bayes}"
            )
        raise unknown_choice(kind, name, table)
    return table[name]


def is_classifier(model: str) -> bool:
    return model in CLASSIFIERS


def describe(dataset: str, config: object) -> Any:
    """The DataSpec of `dataset` with its Config `config`, without loading the data."""
    return lookup("dataset", dataset).load().describe(config)


def applies(model: str, spec: Any) -> str | None:
    """Why `model` does not apply to data of DataSpec `spec`, or None where it does: the one
    rule the runner and the suite both follow. A model declares what it needs as class
    attributes: `needs_levels` (discrete data), `needs_images` ((channels, height, width))."""
    component = lookup("model", model).load()
    if is_classifier(model) and spec.num_classes is None:
        return "a classifier needs labels"
    if getattr(component, "needs_levels", False) and spec.num_levels is None:
        kind = "generative classifier" if is_classifier(model) else "generative model"
        return f"a {kind} needs discrete levels"
    if getattr(component, "needs_images", False) and len(spec.shape) != 3:
        return f"{model} needs images (channels, height, width), not examples of shape {spec.shape}"
    return None


def require_applicable(model: str, dataset: str, spec: Any) -> None:
    """A one-line GenbenchError if `model` does not apply to `dataset` (spec `spec`)."""
    reason = applies(model, spec)
    if reason is not None:
        raise GenbenchError(f"{model} does not apply to {dataset}: {reason}")
