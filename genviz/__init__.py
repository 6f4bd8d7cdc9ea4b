"""genviz: train deep generative models live and watch what happens."""

__version__ = "0.1.0"
