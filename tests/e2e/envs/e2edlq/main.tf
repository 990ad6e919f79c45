# Test-only workflow for the end-to-end suite: the reusable module with small
# timeouts, so a poison message reaches the DLQ within seconds (3 receives with a
# 2-second visibility timeout). It also shows that a new workflow is a few lines.

module "workflow" {
  source = "../../modules/workflow"

  name                             = "e2edlq"
  type                             = "EXPRESS"
  stage_package                    = var.stage_package
  queue_visibility_timeout_seconds = 2
  force_destroy                    = true
  include_execution_data           = true # the opt-in: the log shows inputs and parameters
}
