# Test-only EXPRESS workflow for tests/e2e/test_alerting.py: alarm subscriptions (an
# email address, and the HTTPS endpoint the test starts), the cost budget from
# `ceap-tf cost`'s estimate and the Glue Data Catalog tables, deployed and exercised on
# the local cloud.

module "workflow" {
  source = "../../modules/workflow"

  name          = "e2ealert"
  type          = "EXPRESS"
  stage_package = var.stage_package
  force_destroy = true

  alarm_email_addresses    = ["oncall@example.com"]
  alarm_https_endpoints    = var.alarm_https_endpoints
  budget_cost_estimate_usd = var.cost_estimate_usd
}
