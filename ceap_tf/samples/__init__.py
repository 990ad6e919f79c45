"""Deterministic sample-data generators (raw order events, customer history)."""
