"""Data layer: adapters (raw -> records), sampling, mixtures."""
