# Test-only workflow of the reliability suite (tests/reliability/e2e): the reusable
# module as is, deployed by the state, restart and load tests in turn (each test file
# destroys it at its end; the restart test deploys it on a local cloud of its own).

module "workflow" {
  source = "../../modules/workflow"

  name          = "relexpress"
  type          = "EXPRESS"
  stage_package = var.stage_package
  force_destroy = true
}
