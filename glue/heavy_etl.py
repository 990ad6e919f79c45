"""HeavyETL: the Glue job's entry script, the file Glue runs (glue/README.md).

The job itself is the ``ceap_heavy_etl`` package, which arrives with the stage code
zip (``--extra-py-files``); so do ``ceap_stages.contract``, ``errors`` and ``faults``.
The local cloud's Glue job runs and ``ceap-tf glue run-local`` run this same file.
"""

from __future__ import annotations

import sys

from ceap_heavy_etl.run import command_line

if __name__ == "__main__":
    sys.exit(command_line(sys.argv))
