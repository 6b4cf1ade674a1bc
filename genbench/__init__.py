"""genbench: train and compare generative models and classifiers through one evaluation harness."""

__version__ = "0.1.0"
