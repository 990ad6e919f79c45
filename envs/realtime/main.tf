module "workflow" {
  source = "../../modules/workflow"

  name          = "realtime"
  type          = "EXPRESS"
  stage_package = var.stage_package
}
