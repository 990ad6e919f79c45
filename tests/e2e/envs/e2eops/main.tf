# Test-only EXPRESS workflow for the day-2 operations suite (tests/e2e/test_operations.py):
# a short queue visibility timeout, so a poison message reaches the DLQ within seconds
# and a replayed one runs at once, and execution data left out of the log (the module's
# default, unlike e2edlq), so the commands are tested as they work in production: from
# event types, manifests and executions/{id}/input.json.

module "workflow" {
  source = "../../modules/workflow"

  name                             = "e2eops"
  type                             = "EXPRESS"
  stage_package                    = var.stage_package
  queue_visibility_timeout_seconds = 2
  force_destroy                    = true
}
