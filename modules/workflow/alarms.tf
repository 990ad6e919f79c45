# Alarms to one encrypted SNS topic (subscribe to it to get notified):
# failure rate, duration, DLQ depth and, for STANDARD, Glue job failures.

locals {
  alarm_prefix      = local.state_machine_name
  alarm_topic_name  = "ceap-workflow-${var.name}-alarms"
  alarm_topic_arn   = "arn:${local.partition}:sns:${local.region}:${local.account_id}:${local.alarm_topic_name}"
  alarm_source_arns = ["arn:${local.partition}:cloudwatch:${local.region}:${local.account_id}:alarm:${local.alarm_prefix}-*"]
  duration_defaults = { EXPRESS = 240, STANDARD = 14400 }
  duration_alarm_threshold_seconds = (
    var.duration_alarm_threshold_seconds != null ? var.duration_alarm_threshold_seconds : local.duration_defaults[var.type]
  )
  states_dimensions = { StateMachineArn = local.state_machine_arn }

  glue_failure_rule_name = "${local.glue_job_name}-failed"
  glue_failure_rule_arn  = "arn:${local.partition}:events:${local.region}:${local.account_id}:rule/${local.glue_failure_rule_name}"
  glue_failure_pattern = {
    source        = ["aws.glue"]
    "detail-type" = ["Glue Job State Change"]
    detail = {
      jobName = [for s in local.glue_stage_ids : local.glue_job_names[s]]
      state   = ["FAILED", "TIMEOUT", "ERROR"]
    }
  }

  # Who may publish to the topic: this workflow's alarms and, for STANDARD, its
  # Glue-failure rule; nobody else (confused deputy: aws:SourceArn/aws:SourceAccount).
  # Principals of this account keep what their IAM policies grant.
  alarm_topic_policy = {
    Version = "2012-10-17"
    Statement = concat(
      [
        {
          Sid       = "AllowWorkflowAlarmsToPublish"
          Effect    = "Allow"
          Principal = { Service = "cloudwatch.amazonaws.com" }
          Action    = "sns:Publish"
          Resource  = local.alarm_topic_arn
          Condition = {
            ArnLike      = { "aws:SourceArn" = local.alarm_source_arns }
            StringEquals = { "aws:SourceAccount" = local.account_id }
          }
        },
      ],
      local.is_standard ? [
        {
          Sid       = "AllowGlueFailureRuleToPublish"
          Effect    = "Allow"
          Principal = { Service = "events.amazonaws.com" }
          Action    = "sns:Publish"
          Resource  = local.alarm_topic_arn
          Condition = {
            ArnEquals    = { "aws:SourceArn" = local.glue_failure_rule_arn }
            StringEquals = { "aws:SourceAccount" = local.account_id }
          }
        },
      ] : [],
      local.budget_topic_statements, # budget.tf
    )
  }
}

resource "aws_sns_topic" "alarms" {
  name              = local.alarm_topic_name
  kms_master_key_id = module.storage.kms_key_arn
}

resource "aws_sns_topic_policy" "alarms" {
  arn    = aws_sns_topic.alarms.arn
  policy = jsonencode(local.alarm_topic_policy)
}

resource "aws_cloudwatch_metric_alarm" "failure_rate" {
  alarm_name          = "${local.alarm_prefix}-failure-rate"
  alarm_description   = "More than ${var.failure_rate_alarm_threshold_percent}% of ${local.state_machine_name} executions failed or timed out."
  comparison_operator = "GreaterThanThreshold"
  threshold           = var.failure_rate_alarm_threshold_percent
  evaluation_periods  = 1
  treat_missing_data  = "notBreaching"
  alarm_actions       = [aws_sns_topic.alarms.arn]
  ok_actions          = [aws_sns_topic.alarms.arn]

  metric_query {
    id          = "failure_rate"
    label       = "Failed or timed-out executions (% of started)"
    expression  = "IF(FILL(started, 0) > 0, 100 * (FILL(failed, 0) + FILL(timed_out, 0)) / FILL(started, 0), 0)"
    return_data = true
  }

  metric_query {
    id = "started"
    metric {
      namespace   = "AWS/States"
      metric_name = "ExecutionsStarted"
      dimensions  = local.states_dimensions
      period      = var.alarm_period_seconds
      stat        = "Sum"
    }
  }

  metric_query {
    id = "failed"
    metric {
      namespace   = "AWS/States"
      metric_name = "ExecutionsFailed"
      dimensions  = local.states_dimensions
      period      = var.alarm_period_seconds
      stat        = "Sum"
    }
  }

  metric_query {
    id = "timed_out"
    metric {
      namespace   = "AWS/States"
      metric_name = "ExecutionsTimedOut"
      dimensions  = local.states_dimensions
      period      = var.alarm_period_seconds
      stat        = "Sum"
    }
  }
}

resource "aws_cloudwatch_metric_alarm" "duration" {
  alarm_name          = "${local.alarm_prefix}-duration"
  alarm_description   = "A ${local.state_machine_name} execution took longer than ${local.duration_alarm_threshold_seconds} s."
  namespace           = "AWS/States"
  metric_name         = "ExecutionTime" # milliseconds
  dimensions          = local.states_dimensions
  statistic           = "Maximum"
  period              = var.alarm_period_seconds
  evaluation_periods  = 1
  comparison_operator = "GreaterThanThreshold"
  threshold           = local.duration_alarm_threshold_seconds * 1000
  treat_missing_data  = "notBreaching"
  alarm_actions       = [aws_sns_topic.alarms.arn]
  ok_actions          = [aws_sns_topic.alarms.arn]
}

resource "aws_cloudwatch_metric_alarm" "dlq" {
  alarm_name          = "${local.alarm_prefix}-dlq-not-empty"
  alarm_description   = "More than ${var.dlq_alarm_threshold_messages} messages in ${module.storage.dlq_name}: their executions failed 3 times."
  namespace           = "AWS/SQS"
  metric_name         = "ApproximateNumberOfMessagesVisible"
  dimensions          = { QueueName = module.storage.dlq_name }
  statistic           = "Maximum"
  period              = var.alarm_period_seconds
  evaluation_periods  = 1
  comparison_operator = "GreaterThanThreshold"
  threshold           = var.dlq_alarm_threshold_messages
  treat_missing_data  = "notBreaching"
  alarm_actions       = [aws_sns_topic.alarms.arn]
  ok_actions          = [aws_sns_topic.alarms.arn]
}

# Glue job failures. The signal is Glue's own "Glue Job State Change" event for this
# job ending FAILED, TIMEOUT or ERROR, matched by a rule on the default bus whose target
# is the alarm topic: subscribers get each failed run's event (job, run id, state,
# message), and EventBridge publishes AWS/Events TriggeredRules for the rule (dimension
# RuleName), which the alarm counts. A rule without a target is not established to
# publish any metric, so the alarm could never fire
# (https://docs.aws.amazon.com/eventbridge/latest/userguide/eb-monitoring.html). It
# counts every failed run of the job, whoever started it, and needs no job metrics.
# (STOPPED is left out: it is what aborting an execution does.)
resource "aws_cloudwatch_event_rule" "glue_failed" {
  count = local.is_standard ? 1 : 0

  name          = local.glue_failure_rule_name
  description   = "Runs of ${local.glue_job_name} that ended FAILED, TIMEOUT or ERROR"
  event_pattern = jsonencode(local.glue_failure_pattern)
}

resource "aws_cloudwatch_event_target" "glue_failed" {
  count = local.is_standard ? 1 : 0

  rule      = aws_cloudwatch_event_rule.glue_failed[0].name
  target_id = "alarm-topic"
  arn       = local.alarm_topic_arn # the topic's, known at plan time

  # The topic (and its policy accepting the rule's publish) exist before a failure can arrive.
  depends_on = [aws_sns_topic_policy.alarms]
}

resource "aws_cloudwatch_metric_alarm" "glue_failed" {
  count = local.is_standard ? 1 : 0

  alarm_name          = "${local.alarm_prefix}-glue-job-failed"
  alarm_description   = "More than ${var.glue_failure_alarm_threshold_runs} runs of ${local.glue_job_name} failed, timed out or errored in ${var.alarm_period_seconds} s."
  namespace           = "AWS/Events"
  metric_name         = "TriggeredRules"
  dimensions          = { RuleName = aws_cloudwatch_event_rule.glue_failed[0].name }
  statistic           = "Sum"
  period              = var.alarm_period_seconds
  evaluation_periods  = 1
  comparison_operator = "GreaterThanThreshold"
  threshold           = var.glue_failure_alarm_threshold_runs
  treat_missing_data  = "notBreaching"
  alarm_actions       = [aws_sns_topic.alarms.arn]
  ok_actions          = [aws_sns_topic.alarms.arn]

  depends_on = [aws_cloudwatch_event_target.glue_failed]
}
