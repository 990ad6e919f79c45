"""Versioned Score models shipped with the stage code (JSON files, see lambda_src/README.md)."""
