"""Research code that produced figures and tables in docs/; nothing in stae_ros/ imports it."""
