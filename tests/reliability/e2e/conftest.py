"""The local cloud end to end, with the end-to-end suite's fixtures (tests/e2e): one
project copy and one local cloud per session (per xdist worker)."""

from __future__ import annotations

from relkit import fixtures_of

_e2e = fixtures_of("e2e")
project = _e2e.project
ceap = _e2e.ceap
endpoint = _e2e.endpoint
client = _e2e.client
