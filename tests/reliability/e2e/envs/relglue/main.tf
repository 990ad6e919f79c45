# Test-only STANDARD workflow of the reliability suite (tests/reliability/e2e/
# test_glue_retries.py): the reusable module as is, so the HeavyETL task's retry
# policy under test is the one every STANDARD workflow deploys.

module "workflow" {
  source = "../../modules/workflow"

  name          = "relglue"
  type          = "STANDARD"
  stage_package = var.stage_package
  glue_script   = var.glue_script
  force_destroy = true
}
