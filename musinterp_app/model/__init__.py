"""Running a trained VAE (onnxruntime) and moving through its latent space.

Never imports Qt or torch (see docs/ARCHITECTURE.md, "Layers").
"""
