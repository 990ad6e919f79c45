module "workflow" {
  source = "../../modules/workflow"

  name          = "realtime"
  type          = "EXPRESS"
  stage_package = var.stage_package

  budget_cost_estimate_usd = var.cost_estimate_usd
}
