# Test-only workflow of the reliability suite: two applies at once, an interrupted
# apply, a destroy with executions in flight (tests/reliability/e2e/test_state.py).

module "workflow" {
  source = "../../modules/workflow"

  name          = "relstate"
  type          = "EXPRESS"
  stage_package = var.stage_package
  force_destroy = true
}
