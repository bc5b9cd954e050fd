"""Benchmarks with figures; not tests (``make bench``)."""
