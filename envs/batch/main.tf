module "workflow" {
  source = "../../modules/workflow"

  name          = "batch"
  type          = "STANDARD"
  stage_package = var.stage_package
  glue_script   = var.glue_script

  budget_cost_estimate_usd = var.cost_estimate_usd
}
