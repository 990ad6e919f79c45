"""Stage modules: each exposes ``handler(event, context)`` and its plain logic functions."""
