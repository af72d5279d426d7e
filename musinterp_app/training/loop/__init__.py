"""The training loops: stage 1 (the VAE), stage 2 (the adversarial decoder), DDP and throughput."""
