"""The stage runtime under moto in-process: the stage suite's fixtures (tests/stages)."""

from __future__ import annotations

from relkit import fixtures_of

_stages = fixtures_of("stages")
stage_env = _stages.stage_env  # autouse there, and here
aws = _stages.aws
invoke = _stages.invoke
run_chain = _stages.run_chain
