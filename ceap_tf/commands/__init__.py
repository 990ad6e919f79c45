"""One module per ``ceap-tf`` command; each command parses options and calls library code."""
