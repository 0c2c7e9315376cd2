"""Studies: models."""
