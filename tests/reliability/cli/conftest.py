"""The CLI with the CLI suite's fixtures (tests/cli): a fixture project, a moto server."""

from __future__ import annotations

from relkit import fixtures_of

_cli = fixtures_of("cli")
project_copy = _cli.project_copy
clean_aws_env = _cli.clean_aws_env
moto_server = _cli.moto_server
