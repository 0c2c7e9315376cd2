"""Studies: latent."""
