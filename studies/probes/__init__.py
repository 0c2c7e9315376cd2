"""Studies: probes."""
