# Alert routing, the cost budget and the Glue Data Catalog tables (issue 16, part A).

mock_provider "aws" {
  override_during = plan
  source          = "../../tests/hcl/mocks/aws"
}

override_data {
  target          = data.aws_default_tags.current
  override_during = plan
  values          = { tags = { Project = "ceap", Workflow = "realtime", ManagedBy = "terraform" } }
}

override_resource {
  target          = aws_sns_topic.alarms
  override_during = plan
  values          = { arn = "arn:aws:sns:us-east-1:123456789012:ceap-workflow-realtime-alarms" }
}

variables {
  name = "realtime"
  type = "EXPRESS"
  stage_package = {
    code_zip_path    = "stage-code.zip"
    code_zip_sha256  = "47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU="
    layer_zip_path   = "stage-layer.zip"
    layer_zip_sha256 = "n4bQgYhMfWWaL+qgxVrQFaO/TxsrC4Is0V1sFbDwCgg="
    runtime          = "python3.12"
  }
}

run "no_subscribers_no_estimate_no_budget" {
  command = plan

  assert {
    condition     = length(aws_sns_topic_subscription.alarm_email) == 0 && length(aws_sns_topic_subscription.alarm_https) == 0
    error_message = "nobody subscribed by default"
  }
  assert {
    condition     = length(aws_budgets_budget.this) == 0 && output.summary.budget_name == null
    error_message = "without a limit or an estimate there is no budget"
  }
  assert {
    condition     = length([for s in jsondecode(aws_sns_topic_policy.alarms.policy).Statement : s if s.Principal == { Service = "budgets.amazonaws.com" }]) == 0
    error_message = "without a budget, Budgets may not publish"
  }
  assert {
    condition     = aws_cloudwatch_metric_alarm.dlq.threshold == 0 && aws_cloudwatch_metric_alarm.failure_rate.threshold == 5
    error_message = "the seed's thresholds by default: DLQ > 0, failure rate > 5 %"
  }
}

run "subscriptions_and_thresholds" {
  command = plan

  variables {
    alarm_email_addresses = ["oncall@example.com", "team@example.com"]
    alarm_https_endpoints = {
      pagerduty = { url = "https://events.pagerduty.com/integration/abc123/enqueue", auto_confirms = true }
      chat      = { url = "https://hooks.example.com/ceap", raw_message_delivery = true }
    }
    dlq_alarm_threshold_messages         = 2
    failure_rate_alarm_threshold_percent = 10
    duration_alarm_threshold_seconds     = 120
    create_budget                        = false
  }

  assert {
    condition     = toset(keys(aws_sns_topic_subscription.alarm_email)) == toset(["oncall@example.com", "team@example.com"]) && alltrue([for s in aws_sns_topic_subscription.alarm_email : s.protocol == "email" && s.topic_arn == aws_sns_topic.alarms.arn])
    error_message = "one email subscription per address on the alarm topic"
  }
  assert {
    condition     = aws_sns_topic_subscription.alarm_https["pagerduty"].protocol == "https" && aws_sns_topic_subscription.alarm_https["pagerduty"].endpoint_auto_confirms && !aws_sns_topic_subscription.alarm_https["pagerduty"].raw_message_delivery
    error_message = "PagerDuty: https, auto-confirming, SNS envelope"
  }
  assert {
    condition     = !aws_sns_topic_subscription.alarm_https["chat"].endpoint_auto_confirms && aws_sns_topic_subscription.alarm_https["chat"].raw_message_delivery
    error_message = "chat webhook: confirms through SubscribeURL, raw messages"
  }
  assert {
    condition     = aws_cloudwatch_metric_alarm.dlq.threshold == 2 && aws_cloudwatch_metric_alarm.failure_rate.threshold == 10 && aws_cloudwatch_metric_alarm.duration.threshold == 120000
    error_message = "thresholds come from the variables"
  }
}

run "https_only" {
  command = plan

  variables {
    alarm_https_endpoints = { chat = { url = "http://hooks.example.com/ceap" } }
  }
  expect_failures = [var.alarm_https_endpoints]
}

run "bad_email" {
  command = plan

  variables {
    alarm_email_addresses = ["not-an-address"]
  }
  expect_failures = [var.alarm_email_addresses]
}

run "budget_from_the_estimate" {
  command = plan

  variables {
    budget_cost_estimate_usd = 41.3
  }

  assert {
    condition     = aws_budgets_budget.this[0].name == "ceap-workflow-realtime" && aws_budgets_budget.this[0].limit_amount == "62.00" && aws_budgets_budget.this[0].time_unit == "MONTHLY" && aws_budgets_budget.this[0].budget_type == "COST"
    error_message = "monthly COST budget ceap-workflow-{name}: ceil(estimate x 1.5) USD"
  }
  assert {
    condition     = one(aws_budgets_budget.this[0].cost_filter).name == "TagKeyValue" && tolist(one(aws_budgets_budget.this[0].cost_filter).values) == tolist(["user:Workflow$realtime"])
    error_message = "the budget counts the resources tagged Workflow = realtime"
  }
  assert {
    condition = toset([for n in aws_budgets_budget.this[0].notification : "${n.notification_type}:${n.threshold}:${n.threshold_type}:${join(",", n.subscriber_sns_topic_arns)}"]) == toset([
      "ACTUAL:80:PERCENTAGE:arn:aws:sns:us-east-1:123456789012:ceap-workflow-realtime-alarms",
      "FORECASTED:100:PERCENTAGE:arn:aws:sns:us-east-1:123456789012:ceap-workflow-realtime-alarms",
    ])
    error_message = "actual (80 %) and forecast (100 %) notifications to the alarm topic"
  }
  assert {
    condition = one([for s in jsondecode(aws_sns_topic_policy.alarms.policy).Statement : s if s.Principal == { Service = "budgets.amazonaws.com" }]) == {
      Sid       = "AllowWorkflowBudgetToPublish"
      Effect    = "Allow"
      Principal = { Service = "budgets.amazonaws.com" }
      Action    = "sns:Publish"
      Resource  = "arn:aws:sns:us-east-1:123456789012:ceap-workflow-realtime-alarms"
      Condition = {
        ArnLike      = { "aws:SourceArn" = "arn:aws:budgets::123456789012:budget/ceap-workflow-realtime" }
        StringEquals = { "aws:SourceAccount" = "123456789012" }
      }
    }
    error_message = "the topic accepts this budget's notifications only"
  }
  assert {
    condition = jsonencode(one([for s in module.storage.kms_key_policy.Statement : s.Condition if s.Sid == "AllowBudgetsToPublishToTheAlarmTopic"])) == jsonencode({
      ArnLike      = { "aws:SourceArn" = ["arn:aws:budgets::123456789012:budget/ceap-workflow-realtime"] }
      StringEquals = { "aws:SourceAccount" = "123456789012" }
    })
    error_message = "the key lets Budgets encrypt for this budget only"
  }
  assert {
    condition     = output.summary.budget_name == "ceap-workflow-realtime"
    error_message = "the summary names the budget"
  }
}

run "budget_limit_minimum_and_override" {
  command = plan

  variables {
    budget_cost_estimate_usd        = 1.2
    budget_actual_threshold_percent = 90
  }

  assert {
    condition     = aws_budgets_budget.this[0].limit_amount == "10.00" && contains([for n in aws_budgets_budget.this[0].notification : n.threshold], 90)
    error_message = "a tiny estimate gets the 10 USD minimum; thresholds are variables"
  }
}

run "budget_explicit_limit" {
  command = plan

  variables {
    budget_cost_estimate_usd = 41.3
    budget_monthly_limit_usd = 250
  }

  assert {
    condition     = aws_budgets_budget.this[0].limit_amount == "250.00"
    error_message = "budget_monthly_limit_usd wins over the estimate"
  }
}

run "budget_needs_the_tag_on_every_resource" {
  command = plan

  override_data {
    target          = data.aws_default_tags.current
    override_during = plan
    values          = { tags = { Project = "ceap" } }
  }
  variables {
    budget_monthly_limit_usd = 100
  }
  expect_failures = [aws_budgets_budget.this]
}

run "catalog_express" {
  command = plan

  assert {
    condition     = aws_glue_catalog_database.this[0].name == "ceap_workflow_realtime" && length(aws_glue_catalog_table.customer_history) == 0
    error_message = "one database per workflow; no history table without HeavyETL"
  }
  assert {
    condition = jsonencode(aws_glue_catalog_table.candidates[0].parameters) == jsonencode({
      EXTERNAL                       = "TRUE"
      classification                 = "json"
      "projection.enabled"           = "true"
      "projection.execution_id.type" = "injected"
      "projection.stage.type"        = "enum"
      "projection.stage.values"      = "ETL,Filter,Score,Store"
      "storage.location.template"    = "s3://ceap-workflow-realtime-123456789012/executions/$${execution_id}/$${stage}/"
    })
    error_message = "partition projection over executions/{execution_id}/{stage}/ (the EXPRESS stages), no crawler"
  }
  assert {
    condition     = [for c in one(aws_glue_catalog_table.candidates[0].storage_descriptor).columns : c.name] == ["customerId", "context", "subject", "attributes", "scores", "metadata"] && one([for c in one(aws_glue_catalog_table.candidates[0].storage_descriptor).columns : c.type if c.name == "scores"]) == "map<string,struct<value:double,confidence:double>>"
    error_message = "the columns are the contract's (catalog_schema.tf, generated from ceap_stages.schemas; tests/test_catalog_schema.py checks it is current)"
  }
  assert {
    condition     = [for p in aws_glue_catalog_table.candidates[0].partition_keys : p.name] == ["execution_id", "stage"]
    error_message = "partitioned by execution and stage"
  }
  assert {
    condition     = one(one(aws_glue_catalog_table.candidates[0].storage_descriptor).ser_de_info).serialization_library == "org.openx.data.jsonserde.JsonSerDe"
    error_message = "JSON Lines through the OpenX JSON SerDe"
  }
  assert {
    condition     = output.summary.catalog_database == "ceap_workflow_realtime" && output.summary.catalog_tables == tolist(["candidates"])
    error_message = "the summary names the catalog"
  }
}

run "catalog_off" {
  command = plan

  variables {
    create_catalog = false
  }

  assert {
    condition     = length(aws_glue_catalog_database.this) == 0 && length(aws_glue_catalog_table.candidates) == 0 && length(output.summary.catalog_tables) == 0
    error_message = "create_catalog = false creates no catalog"
  }
}

run "catalog_standard_history" {
  command = plan

  variables {
    name = "batch"
    type = "STANDARD"
    glue_script = {
      path   = "heavy_etl.py"
      sha256 = "0000000000000000000000000000000000000000000000000000000000000000"
    }
    glue_failure_alarm_threshold_runs = 1
  }

  assert {
    condition     = aws_glue_catalog_table.candidates[0].parameters["projection.stage.values"] == "ETL,Filter,HeavyETL,Score,Store"
    error_message = "STANDARD candidates include the Glue job's output"
  }
  assert {
    condition     = aws_glue_catalog_table.customer_history[0].parameters["storage.location.template"] == "s3://ceap-workflow-batch-123456789012/history/dt=$${dt}/" && aws_glue_catalog_table.customer_history[0].parameters["projection.dt.type"] == "date" && aws_glue_catalog_table.customer_history[0].parameters["projection.dt.format"] == "yyyy-MM-dd"
    error_message = "history partitions projected by day from the history dataset's dt=YYYY-MM-DD/ prefixes"
  }
  assert {
    condition     = [for c in one(aws_glue_catalog_table.customer_history[0].storage_descriptor).columns : "${c.name}:${c.type}"] == ["customerId:string", "orderId:string", "orderDate:string", "orderValue:double", "marketplace:string", "responded:boolean"]
    error_message = "history columns from the contract"
  }
  assert {
    condition     = aws_cloudwatch_metric_alarm.glue_failed[0].threshold == 1
    error_message = "the Glue failure threshold is a variable"
  }
}
