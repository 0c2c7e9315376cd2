"""Studies: roi."""
