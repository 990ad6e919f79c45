# Test-only workflow for the end-to-end suite: the reusable module as is (the test
# shortens the queue's visibility timeout on the queue after the apply, so a poison
# message reaches the DLQ within seconds: the module refuses under 300 s for EXPRESS).
# It also shows that a new workflow is a few lines.

module "workflow" {
  source = "../../modules/workflow"

  name                   = "e2edlq"
  type                   = "EXPRESS"
  stage_package          = var.stage_package
  force_destroy          = true
  include_execution_data = true # the opt-in: the log shows inputs and parameters
}
