"""Benchmarks of machine-learning models on bulk gene expression."""

__version__ = "0.1.0"
