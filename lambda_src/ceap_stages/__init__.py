"""CEAP stage runtime: the code that runs inside every workflow stage."""
