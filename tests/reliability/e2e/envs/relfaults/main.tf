# Test-only workflow of the reliability suite (tests/reliability/e2e): the reusable
# module as is, with a short Score timeout so an injected slow dependency times the
# function out within seconds (a Lambda timeout as on AWS).

module "workflow" {
  source = "../../modules/workflow"

  name          = "relfaults"
  type          = "EXPRESS"
  stage_package = var.stage_package
  force_destroy = true
  stage_overrides = {
    Score = { timeout = 12 }
  }
}
