# Test-only EXPRESS workflow for the day-2 operations suite (tests/e2e/test_operations.py):
# the reusable module with a short queue visibility timeout, so a poison message reaches
# the DLQ within seconds (3 receives) and a replayed one runs at once.

module "workflow" {
  source = "../../modules/workflow"

  name                             = "e2eops"
  type                             = "EXPRESS"
  stage_package                    = var.stage_package
  queue_visibility_timeout_seconds = 3
  force_destroy                    = true
}
