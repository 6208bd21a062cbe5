"""Training: losses, metrics, protocols and the trainer."""
