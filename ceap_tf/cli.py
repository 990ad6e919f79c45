"""Placeholder entry point; replaced by the CLI issue's work."""

import click


@click.group()
def main() -> None:
    """Deploy and operate CEAP workflows."""
