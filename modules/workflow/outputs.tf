output "name" {
  description = "Workflow name."
  value       = var.name
}

output "type" {
  description = "EXPRESS or STANDARD."
  value       = var.type
}

output "stage_order" {
  description = "States in execution order (custom stages included)."
  value       = local.stage_order
}

output "state_machine_name" {
  description = "State machine name (Ceap-{name}-Workflow)."
  value       = aws_sfn_state_machine.this.name
}

output "state_machine_arn" {
  description = "State machine ARN."
  value       = aws_sfn_state_machine.this.arn
}

output "definition" {
  description = "The generated state machine definition (decoded)."
  value       = local.definition
}

output "bucket" {
  description = "Workflow bucket name."
  value       = module.storage.bucket_name
}

output "queue_url" {
  description = "Workflow queue URL (send an execution input as a message to start a run)."
  value       = module.storage.queue_url
}

output "queue_arn" {
  description = "Workflow queue ARN."
  value       = module.storage.queue_arn
}

output "dlq_url" {
  description = "Dead-letter queue URL."
  value       = module.storage.dlq_url
}

output "dlq_arn" {
  description = "Dead-letter queue ARN."
  value       = module.storage.dlq_arn
}

output "table_name" {
  description = "Candidate table name."
  value       = module.storage.table_name
}

output "event_bus_name" {
  description = "EventBridge bus of the Reactive stage."
  value       = module.storage.event_bus_name
}

output "function_names" {
  description = "Stage function names by stage id."
  value       = local.function_names
}

output "glue_job_name" {
  description = "HeavyETL Glue job name (null for EXPRESS)."
  value       = local.is_standard ? module.glue_job[0].job_name : null
}

output "dashboard_name" {
  description = "CloudWatch dashboard name."
  value       = aws_cloudwatch_dashboard.this.dashboard_name
}

output "alarm_topic_arn" {
  description = "SNS topic the alarms notify."
  value       = aws_sns_topic.alarms.arn
}

output "kms_key_arn" {
  description = "Workflow KMS key ARN."
  value       = module.storage.kms_key_arn
}

output "sfn_policy" {
  description = "The state machine role's inline policy (decoded), for tests and reviews."
  value       = local.sfn_policy
}

output "pipe_policy" {
  description = "The pipe role's inline policy (decoded), for tests and reviews."
  value       = local.pipe_policy
}

output "summary" {
  description = "Everything the CLI needs, as the single `workflow` output of an env (docs/ARCHITECTURE.md)."
  value = {
    name               = var.name
    type               = var.type
    state_machine_arn  = aws_sfn_state_machine.this.arn
    state_machine_name = aws_sfn_state_machine.this.name
    bucket             = module.storage.bucket_name
    queue_url          = module.storage.queue_url
    queue_arn          = module.storage.queue_arn
    dlq_url            = module.storage.dlq_url
    dlq_arn            = module.storage.dlq_arn
    table_name         = module.storage.table_name
    event_bus_name     = module.storage.event_bus_name
    function_names     = local.function_names
    glue_job_name      = local.is_standard ? module.glue_job[0].job_name : null
    dashboard_name     = aws_cloudwatch_dashboard.this.dashboard_name
    alarm_topic_arn    = aws_sns_topic.alarms.arn
    budget_name        = local.create_budget ? aws_budgets_budget.this[0].name : null
    catalog_database   = var.create_catalog ? aws_glue_catalog_database.this[0].name : null
    catalog_tables     = var.create_catalog ? concat([aws_glue_catalog_table.candidates[0].name], aws_glue_catalog_table.customer_history[*].name) : []
    log_groups = {
      state_machine = aws_cloudwatch_log_group.states.name
      functions = merge(
        { for s, m in module.stage : s => m.log_group_name },
        { for s, m in module.custom_lambda_stage : s => m.log_group_name },
      )
      glue = concat(local.is_standard ? module.glue_job[0].log_group_names : [], flatten([for s, m in module.custom_glue_stage : m.log_group_names]))
    }
    # Custom stages (custom_stages.tf): the state order and each Glue stage's job.
    stage_order    = local.stage_order
    glue_job_names = local.glue_job_names
    custom_stages  = { for c in var.custom_stages : c.id => { kind = c.kind, after = c.after } }
    alarm_names = concat(
      [
        aws_cloudwatch_metric_alarm.failure_rate.alarm_name,
        aws_cloudwatch_metric_alarm.duration.alarm_name,
        aws_cloudwatch_metric_alarm.dlq.alarm_name,
      ],
      aws_cloudwatch_metric_alarm.glue_failed[*].alarm_name,
      [for a in aws_cloudwatch_metric_alarm.custom_stage_errors : a.alarm_name],
    )
  }
}
