"""Inference: prediction on videos, visualisation and reports."""
