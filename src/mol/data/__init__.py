"""Data: dataset readers, face alignment, flow, cache, clips and synthetic data."""
