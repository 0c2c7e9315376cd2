"""Studies: data."""
