"""Data layer: sources (a configured source string -> local files), adapters (raw -> records), sampling, mixtures."""
