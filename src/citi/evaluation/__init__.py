"""Benchmark scoring. Each scorer registers itself (``registry.register``) in its own module."""
