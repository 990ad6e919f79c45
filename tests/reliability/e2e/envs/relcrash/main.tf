# Test-only workflow of the reliability suite: the local cloud is killed under it, in
# the middle of an execution and of an apply (tests/reliability/e2e/test_cloud_restart.py).

module "workflow" {
  source = "../../modules/workflow"

  name          = "relcrash"
  type          = "EXPRESS"
  stage_package = var.stage_package
  force_destroy = true
}
