# Test-only EXPRESS workflow for the day-2 operations suite (tests/e2e/test_operations.py),
# with execution data left out of the log (the module's default, unlike e2edlq), so the
# commands are tested as they work in production: from event types, manifests and
# executions/{id}/input.json. modules/workflow requires an EXPRESS queue's visibility
# timeout to exceed 300 s; the suite shortens it on the queue itself after the apply so
# a poison message reaches the DLQ within seconds.

module "workflow" {
  source = "../../modules/workflow"

  name          = "e2eops"
  type          = "EXPRESS"
  stage_package = var.stage_package
  force_destroy = true
}
