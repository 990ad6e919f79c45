# One CloudWatch dashboard per workflow: executions, stage functions, queues, Glue
# and the alarm states, laid out two widgets per row.

locals {
  dashboard_name = local.state_machine_name
  function_names = merge(
    { for s, m in module.stage : s => m.function_name },
    { for s, m in module.custom_lambda_stage : s => m.function_name },
  )

  metric_widgets = concat(
    [
      {
        title   = "Executions"
        stat    = "Sum"
        metrics = [for m in ["ExecutionsStarted", "ExecutionsSucceeded", "ExecutionsFailed", "ExecutionsTimedOut"] : ["AWS/States", m, "StateMachineArn", local.state_machine_arn]]
      },
      {
        title = "Execution time (ms)"
        stat  = "Average"
        metrics = [
          ["AWS/States", "ExecutionTime", "StateMachineArn", local.state_machine_arn, { stat = "Average", label = "average" }],
          ["AWS/States", "ExecutionTime", "StateMachineArn", local.state_machine_arn, { stat = "Maximum", label = "maximum" }],
        ]
      },
      {
        title   = "Stage errors"
        stat    = "Sum"
        metrics = [for s in local.lambda_stages : ["AWS/Lambda", "Errors", "FunctionName", local.function_names[s], { label = s }]]
      },
      {
        title   = "Stage duration p95 (ms)"
        stat    = "p95"
        metrics = [for s in local.lambda_stages : ["AWS/Lambda", "Duration", "FunctionName", local.function_names[s], { label = s }]]
      },
      {
        title   = "Stage throttles"
        stat    = "Sum"
        metrics = [for s in local.lambda_stages : ["AWS/Lambda", "Throttles", "FunctionName", local.function_names[s], { label = s }]]
      },
      {
        title = "Queues"
        stat  = "Maximum"
        metrics = [
          ["AWS/SQS", "ApproximateNumberOfMessagesVisible", "QueueName", module.storage.queue_name, { label = "queue visible" }],
          ["AWS/SQS", "ApproximateAgeOfOldestMessage", "QueueName", module.storage.queue_name, { label = "queue oldest (s)" }],
          ["AWS/SQS", "ApproximateNumberOfMessagesVisible", "QueueName", module.storage.dlq_name, { label = "DLQ visible" }],
        ]
      },
    ],
    local.is_standard ? [
      {
        title   = "HeavyETL failed runs"
        stat    = "Sum"
        metrics = [["AWS/Events", "TriggeredRules", "RuleName", local.glue_failure_rule_name, { label = local.glue_job_name }]]
      },
    ] : [],
  )

  # Alarm ARNs from the alarm names (known at plan time, still dependent on the alarms).
  alarm_arns = [
    for n in concat(
      [
        aws_cloudwatch_metric_alarm.failure_rate.alarm_name,
        aws_cloudwatch_metric_alarm.duration.alarm_name,
        aws_cloudwatch_metric_alarm.dlq.alarm_name,
      ],
      aws_cloudwatch_metric_alarm.glue_failed[*].alarm_name,
    ) : "arn:${local.partition}:cloudwatch:${local.region}:${local.account_id}:alarm:${n}"
  ]

  widgets = concat(
    [
      for i, w in local.metric_widgets : {
        type   = "metric"
        x      = (i % 2) * 12
        y      = floor(i / 2) * 6
        width  = 12
        height = 6
        properties = {
          title   = w.title
          region  = local.region
          stat    = w.stat
          period  = var.alarm_period_seconds
          view    = "timeSeries"
          stacked = false
          metrics = w.metrics
        }
      }
    ],
    [
      {
        type   = "alarm"
        x      = 0
        y      = ceil(length(local.metric_widgets) / 2) * 6
        width  = 24
        height = 3
        properties = {
          title  = "Alarms"
          alarms = local.alarm_arns
        }
      },
    ],
  )
}

resource "aws_cloudwatch_dashboard" "this" {
  dashboard_name = local.dashboard_name
  dashboard_body = jsonencode({ widgets = local.widgets })
}
