# Alarms to one encrypted SNS topic (subscribe to it to get notified):
# failure rate, duration, DLQ depth and, for STANDARD, Glue job failures.

locals {
  alarm_prefix      = local.state_machine_name
  duration_defaults = { EXPRESS = 240, STANDARD = 14400 }
  duration_alarm_threshold_seconds = (
    var.duration_alarm_threshold_seconds != null ? var.duration_alarm_threshold_seconds : local.duration_defaults[var.type]
  )
  states_dimensions = { StateMachineArn = local.state_machine_arn }

  glue_failure_rule_name = "${local.glue_job_name}-failed"
  glue_failure_pattern = {
    source        = ["aws.glue"]
    "detail-type" = ["Glue Job State Change"]
    detail = {
      jobName = [local.glue_job_name]
      state   = ["FAILED", "TIMEOUT", "ERROR"]
    }
  }
}

resource "aws_sns_topic" "alarms" {
  name              = "ceap-workflow-${var.name}-alarms"
  kms_master_key_id = module.storage.kms_key_arn
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
  alarm_description   = "Messages reached ${module.storage.dlq_name}: their executions failed 3 times."
  namespace           = "AWS/SQS"
  metric_name         = "ApproximateNumberOfMessagesVisible"
  dimensions          = { QueueName = module.storage.dlq_name }
  statistic           = "Maximum"
  period              = var.alarm_period_seconds
  evaluation_periods  = 1
  comparison_operator = "GreaterThanThreshold"
  threshold           = 0
  treat_missing_data  = "notBreaching"
  alarm_actions       = [aws_sns_topic.alarms.arn]
  ok_actions          = [aws_sns_topic.alarms.arn]
}

# Glue job failures. The signal is Glue's own "Glue Job State Change" event for this
# job ending FAILED, TIMEOUT or ERROR, counted by a rule on the default bus
# (AWS/Events MatchedEvents). It fires on every failed run, including runs that
# Step Functions then retries successfully, which ExecutionsFailed never shows, and
# needs no job metrics. (STOPPED is left out: it is what aborting an execution does.)
resource "aws_cloudwatch_event_rule" "glue_failed" {
  count = local.is_standard ? 1 : 0

  name          = local.glue_failure_rule_name
  description   = "Runs of ${local.glue_job_name} that ended FAILED, TIMEOUT or ERROR"
  event_pattern = jsonencode(local.glue_failure_pattern)
}

resource "aws_cloudwatch_metric_alarm" "glue_failed" {
  count = local.is_standard ? 1 : 0

  alarm_name          = "${local.alarm_prefix}-glue-job-failed"
  alarm_description   = "A run of ${local.glue_job_name} failed, timed out or errored."
  namespace           = "AWS/Events"
  metric_name         = "MatchedEvents"
  dimensions          = { RuleName = aws_cloudwatch_event_rule.glue_failed[0].name }
  statistic           = "Sum"
  period              = var.alarm_period_seconds
  evaluation_periods  = 1
  comparison_operator = "GreaterThanThreshold"
  threshold           = 0
  treat_missing_data  = "notBreaching"
  alarm_actions       = [aws_sns_topic.alarms.arn]
  ok_actions          = [aws_sns_topic.alarms.arn]
}
