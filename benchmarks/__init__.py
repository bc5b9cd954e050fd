"""Benchmarks: figures and ratios, printed; never part of the tests (shared machines are noisy)."""
