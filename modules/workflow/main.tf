# One CEAP workflow: storage, the dependency layer, five stage functions, the
# HeavyETL Glue job (STANDARD), the state machine generated from the stage order
# (states.tf), its IAM (iam.tf), the SQS pipe (pipe.tf), alarms and a dashboard.

data "aws_caller_identity" "current" {}
data "aws_region" "current" {}
data "aws_partition" "current" {}

locals {
  account_id = data.aws_caller_identity.current.account_id
  region     = data.aws_region.current.name
  partition  = data.aws_partition.current.partition

  is_standard = var.type == "STANDARD"

  # Lambda throttling budget (states.tf): EXPRESS runs end after 5 minutes anyway, while
  # nothing bounds how many STANDARD executions the pipe starts (README, Pipe).
  throttle_retry_defaults     = { EXPRESS = 8, STANDARD = 20 }
  throttle_retry_max_attempts = var.throttle_retry_max_attempts != null ? var.throttle_retry_max_attempts : local.throttle_retry_defaults[var.type]

  lambda_stages = ["ETL", "Filter", "Score", "Store", "Reactive"]
  # The order of the built-in states; HeavyETL (Glue) sits between Filter and Score in
  # STANDARD. local.stage_order (custom_stages.tf) inserts the custom stages.
  base_stage_order = local.is_standard ? ["ETL", "Filter", "HeavyETL", "Score", "Store", "Reactive"] : local.lambda_stages

  state_machine_name = "Ceap-${var.name}-Workflow"
  state_machine_arn  = "arn:${local.partition}:states:${local.region}:${local.account_id}:stateMachine:${local.state_machine_name}"
  states_log_group   = "/aws/vendedlogs/states/${local.state_machine_name}"
  glue_job_name      = "ceap-workflow-${var.name}-heavy-etl"
  scripts_bucket     = coalesce(var.glue_scripts_bucket_name, "ceap-glue-scripts-${local.account_id}")

  # STANDARD stages handle large inputs and have no 5-minute bound; EXPRESS uses the
  # stage_lambda defaults (240 s for all five stages together).
  standard_stage_sizes = {
    ETL      = { memory_size = 2048, timeout = 900 }
    Filter   = { memory_size = 1024, timeout = 600 }
    Score    = { memory_size = 2048, timeout = 900 }
    Store    = { memory_size = 1024, timeout = 900 }
    Reactive = { memory_size = 512, timeout = 600 }
  }

  # Effective settings per stage: an override wins, then the STANDARD size, then
  # null (the stage_lambda default, sized for EXPRESS).
  overrides = {
    for s in local.lambda_stages : s => merge(
      { memory_size = null, timeout = null, reserved_concurrency = null, environment = {} },
      try(var.stage_overrides[s], {}),
    )
  }
  stage_settings = {
    for s in local.lambda_stages : s => {
      memory_size          = local.overrides[s].memory_size != null ? local.overrides[s].memory_size : (local.is_standard ? local.standard_stage_sizes[s].memory_size : null)
      timeout              = local.overrides[s].timeout != null ? local.overrides[s].timeout : (local.is_standard ? local.standard_stage_sizes[s].timeout : null)
      reserved_concurrency = local.overrides[s].reserved_concurrency != null ? local.overrides[s].reserved_concurrency : var.reserved_concurrency
      environment          = local.overrides[s].environment
    }
  }
}

module "storage" {
  source = "../storage"

  name                             = var.name
  executions_expiration_days       = var.executions_expiration_days
  queue_visibility_timeout_seconds = var.queue_visibility_timeout_seconds
  force_destroy                    = var.force_destroy
  table_deletion_protection        = var.table_deletion_protection

  kms_alarm_source_arns      = local.alarm_source_arns
  kms_eventbridge_topic_arns = local.is_standard ? [local.alarm_topic_arn] : []
  kms_budget_source_arns     = local.create_budget ? [local.budget_arn] : []
  kms_log_group_names = concat(
    [
      "/aws/lambda/CeapWorkflow-${var.name}-*",
      local.states_log_group,
      "/aws-glue/jobs/${local.glue_job_name}/*",
    ],
    # Custom Glue stages' jobs (custom_stages.tf) log to groups of their own.
    [for id in keys(local.custom_glue_stages) : "/aws-glue/jobs/ceap-workflow-${var.name}-${lower(id)}/*"],
  )
}

resource "aws_lambda_layer_version" "deps" {
  layer_name               = "ceap-workflow-${var.name}-deps"
  description              = "CEAP ${var.name} workflow: stage runtime dependencies"
  s3_bucket                = local.layer_s3_bucket
  s3_key                   = local.layer_s3_key
  source_code_hash         = var.stage_package.layer_zip_sha256
  compatible_runtimes      = [var.stage_package.runtime]
  compatible_architectures = ["x86_64"]
}

module "stage" {
  source   = "../stage_lambda"
  for_each = toset(local.lambda_stages)

  workflow_name   = var.name
  stage           = each.key
  code_s3_bucket  = local.code_s3_bucket
  code_s3_key     = local.code_s3_key
  code_zip_sha256 = var.stage_package.code_zip_sha256
  runtime         = var.stage_package.runtime
  layer_arns      = [aws_lambda_layer_version.deps.arn]

  memory_size          = local.stage_settings[each.key].memory_size
  timeout              = local.stage_settings[each.key].timeout
  reserved_concurrency = local.stage_settings[each.key].reserved_concurrency
  environment          = merge(local.scale_environment[each.key], local.stage_settings[each.key].environment, local.lineage_environment, local.quality_environment[each.key])
  log_retention_days   = var.log_retention_days

  kms_key_arn              = module.storage.kms_key_arn
  bucket_arn               = module.storage.bucket_arn
  first_stage              = each.key == local.stage_order[0]
  extra_source_bucket_arns = each.key == "ETL" ? var.extra_source_bucket_arns : []
  table_arn                = each.key == "Store" ? module.storage.table_arn : null
  table_name               = each.key == "Store" ? module.storage.table_name : null
  event_bus_arn            = each.key == "Reactive" ? module.storage.event_bus_arn : null
  event_bus_name           = each.key == "Reactive" ? module.storage.event_bus_name : null
}

module "glue_job" {
  source = "../glue_job"
  count  = local.is_standard ? 1 : 0

  workflow_name       = var.name
  scripts_bucket_name = local.scripts_bucket
  script_path         = var.glue_script.path
  script_sha256       = var.glue_script.sha256
  script_s3           = var.glue_script.s3_bucket != null ? { bucket = var.glue_script.s3_bucket, key = var.glue_script.s3_key } : null
  code_zip_path       = var.stage_package.code_zip_path
  code_zip_sha256     = var.stage_package.code_zip_sha256
  code_zip_s3         = local.code_published ? { bucket = var.stage_package.s3_bucket, key = var.stage_package.code_zip_s3_key } : null
  bucket_name         = module.storage.bucket_name
  kms_key_arn         = module.storage.kms_key_arn
  history_uri         = var.history_uri
  worker_type         = var.glue_job.worker_type
  number_of_workers   = var.glue_job.number_of_workers
  timeout_minutes     = var.glue_job.timeout_minutes
  max_concurrent_runs = var.glue_job.max_concurrent_runs
  job_arguments       = merge(local.fanout_job_arguments, var.glue_job.arguments, local.glue_lineage_arguments)
  log_retention_days  = var.log_retention_days
}
