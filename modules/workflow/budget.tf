# An AWS Budgets cost budget per workflow: the costs of every resource tagged
# {budget_cost_allocation_tag} = {name} (the env's provider default_tags put the tag on
# every resource), with actual and forecast notifications to the alarm topic.
#
# The limit defaults to `ceap-tf cost`'s estimate (the wrapper passes it) times
# budget_margin, at least budget_minimum_usd; budget_monthly_limit_usd sets it.
# AWS counts a user tag in Budgets only after it is activated as a cost-allocation tag
# in the Billing console (or `aws ce update-cost-allocation-tags-status`), up to 24 h
# after it first appears on a resource
# (https://docs.aws.amazon.com/awsaccountbilling/latest/aboutv2/activating-tags.html,
# https://docs.aws.amazon.com/cost-management/latest/userguide/budgets-create-filters.html).

data "aws_default_tags" "current" {}

locals {
  budget_name = "ceap-workflow-${var.name}"
  budget_arn  = "arn:${local.partition}:budgets::${local.account_id}:budget/${local.budget_name}"
  budget_limit_usd = (
    var.budget_monthly_limit_usd != null ? var.budget_monthly_limit_usd
    : var.budget_cost_estimate_usd != null ? max(ceil(var.budget_cost_estimate_usd * var.budget_margin), var.budget_minimum_usd)
    : null
  )
  create_budget = var.create_budget && local.budget_limit_usd != null

  # Budgets publishes its notifications to the alarm topic, for this budget only.
  budget_topic_statements = local.create_budget ? [
    {
      Sid       = "AllowWorkflowBudgetToPublish"
      Effect    = "Allow"
      Principal = { Service = "budgets.amazonaws.com" }
      Action    = "sns:Publish"
      Resource  = local.alarm_topic_arn
      Condition = {
        ArnLike      = { "aws:SourceArn" = local.budget_arn }
        StringEquals = { "aws:SourceAccount" = local.account_id }
      }
    },
  ] : []

  budget_notifications = {
    ACTUAL     = var.budget_actual_threshold_percent
    FORECASTED = var.budget_forecast_threshold_percent
  }
}

resource "aws_budgets_budget" "this" {
  count = local.create_budget ? 1 : 0

  name         = local.budget_name
  budget_type  = "COST"
  limit_amount = format("%.2f", local.budget_limit_usd)
  limit_unit   = "USD"
  time_unit    = "MONTHLY"

  cost_filter {
    name   = "TagKeyValue"
    values = [format("user:%s$%s", var.budget_cost_allocation_tag, var.name)]
  }

  dynamic "notification" {
    for_each = local.budget_notifications
    content {
      notification_type         = notification.key
      comparison_operator       = "GREATER_THAN"
      threshold                 = notification.value
      threshold_type            = "PERCENTAGE"
      subscriber_sns_topic_arns = [aws_sns_topic.alarms.arn]
    }
  }

  # Budgets checks that it may publish when the notification is created.
  depends_on = [aws_sns_topic_policy.alarms]

  lifecycle {
    precondition {
      condition     = lookup(data.aws_default_tags.current.tags, var.budget_cost_allocation_tag, null) == var.name
      error_message = "The budget counts resources tagged ${var.budget_cost_allocation_tag} = ${var.name}: set that tag in the env's provider default_tags (every resource carries it), or set create_budget = false."
    }
  }
}
