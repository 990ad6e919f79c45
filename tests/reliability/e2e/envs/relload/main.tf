# Test-only workflow of the reliability suite: concurrent EXPRESS executions and a burst
# of messages through the queue and pipe (tests/reliability/e2e/test_load.py).

module "workflow" {
  source = "../../modules/workflow"

  name          = "relload"
  type          = "EXPRESS"
  stage_package = var.stage_package
  force_destroy = true
}
