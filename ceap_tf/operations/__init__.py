"""Day-2 operations on a deployed workflow: find, inspect, fix and replay executions.

The same code serves the local cloud and AWS; everything goes through the target's
boto3 clients and the env's ``workflow`` output (see docs/ARCHITECTURE.md):

- :mod:`.workflow`   the deployed workflow and its clients
- :mod:`.history`    executions: listed (STANDARD: ListExecutions; EXPRESS: the state
                     machine's log group), found by name or ARN, their history events
- :mod:`.funnel`     one execution as a stage funnel (manifests, history, Glue run)
- :mod:`.follow`     watch an execution to its end, stage by stage
- :mod:`.logs`       merged log lines of every log group of the workflow
- :mod:`.rejects`    rejected records, read from the manifests
- :mod:`.send`       submit through the queue and find the execution it started
- :mod:`.redrive`    resume (STANDARD) or re-run (EXPRESS) a failed execution
- :mod:`.dlq`        peek, replay (StartMessageMoveTask) and purge the DLQ
- :mod:`.status`     health at a glance
- :mod:`.report`     the offline HTML report (plotly)
- :mod:`.sections`   the small section model ``describe``/``status`` print and emit as JSON
"""
