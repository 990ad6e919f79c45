# Test-only STANDARD workflow for tests/e2e/test_operations_standard.py: Score reads its
# model from a key the test fills only after the first run failed there, so `redrive`
# has something to fix.

module "workflow" {
  source = "../../modules/workflow"

  name          = "e2eopsstd"
  type          = "STANDARD"
  stage_package = var.stage_package
  glue_script   = var.glue_script
  force_destroy = true

  stage_overrides = {
    Score = { environment = { CEAP_MODEL_KEY = "models/e2e-model.json" } }
  }
}
