"""Training infrastructure: the phase contract, the one training loop, checkpoints and logging."""
