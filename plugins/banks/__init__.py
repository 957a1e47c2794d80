"""Bank statement formats, one module per family."""
