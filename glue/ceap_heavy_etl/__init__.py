"""The HeavyETL Glue job: enrich candidates with customer order-history features (PySpark).

Runs on AWS Glue 5.0 (Spark 3.5, Python 3.11) and, unchanged, on plain PySpark in
local mode, through the entry script ``glue/heavy_etl.py`` (the file Glue runs; this
package arrives with it in the ``--extra-py-files`` stage code zip)::

    python heavy_etl.py --JOB_NAME x --execution_id E --workflow_bucket B \
        --previous_stage Filter --current_stage HeavyETL --history_uri s3://B/history/

It reads the previous stage's manifest and only the data objects it lists, joins
the candidates with the customer history dataset (``{history_uri}/dt=YYYY-MM-DD/*``,
JSON Lines, gzip JSON Lines or Parquet), sets ``attributes.enrichment`` on every
candidate, and writes JSON Lines parts plus ``output.json`` under
``executions/{id}/{current_stage}/`` exactly as a Lambda stage does (every key comes
from ``ceap_stages.contract``, shipped to Glue with ``--extra-py-files``).

Features, relative to the candidate's reference day R = the UTC calendar date of
``attributes.eventDate``. Only orders dated strictly before R count (the
candidate's own order, placed on R, never does), and only within the lookback of
``--lookback_days`` (default 365) days. With age = R - orderDate in days:

* ``orderCount30d`` / ``orderCount90d``: orders with age 1..30 / 1..90.
* ``avgOrderValue90d``: mean orderValue of the 90-day orders, computed exactly in
  cents (each value rounded half-up to a cent, the mean rounded half-up to a
  cent); ``null`` when there are none.
* ``daysSinceLastOrder``: smallest age in the lookback; ``null`` when no order.
* ``priorResponseCount``: orders in the lookback with ``responded`` true.

A candidate without history gets zero counts and null average/recency.

Rows that cannot be used are never dropped silently: candidates or history
records that are not JSON objects of the expected types, miss a field, carry a
bad date or value, or sit in the wrong ``dt=`` partition go to
``rejected/part-NNNNN.jsonl`` with ``rejection: {reasonCode, detail, input, key}``
(plus ``line`` when the raw text was not a JSON object), and are counted in the
manifest's ``rejectedCount``.

I/O: ``--io_mode spark`` uses Spark's own readers and writers (Glue has an ``s3://``
filesystem; ``file://`` roots serve tests and benchmarks). ``--io_mode boto3`` lists
keys on the driver and moves data in the executors with boto3 (for a Spark without
an S3 filesystem, such as local PySpark against the embedded cloud). ``auto``
picks spark when the session has a filesystem for the scheme. Both produce the
same bytes. Nothing but small metadata (counts, checksums, keys) reaches the driver.

Modules: ``args`` (the arguments), ``storage`` (the storage back ends), ``history``
(the history dataset and its validation), ``records`` (record logic and Arrow
conversion run in the executors), ``features`` (the enrichment), ``run`` (one run of
the job, the session, the command line).
"""
