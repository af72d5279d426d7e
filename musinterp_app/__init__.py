"""musinterp: blend two pieces of music through the latent space of a VAE."""

__version__ = "0.1.0"
