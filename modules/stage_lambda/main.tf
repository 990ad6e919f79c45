# One CEAP stage as a Lambda function: code from a prebuilt zip in S3 (bucket, key
# and hash; no archive provider, no local `filename`, whose upload the AWS provider
# serialises across all functions), the shared dependency layer, its own log group,
# X-Ray active tracing, opt-in reserved concurrency, and an execution role scoped to
# what this stage touches (see iam.tf).

data "aws_caller_identity" "current" {}
data "aws_region" "current" {}
data "aws_partition" "current" {}

locals {
  account_id = data.aws_caller_identity.current.account_id
  region     = data.aws_region.current.name
  partition  = data.aws_partition.current.partition

  function_name  = "CeapWorkflow-${var.workflow_name}-${var.stage}Lambda"
  handler        = var.handler != null ? var.handler : "ceap_stages.stages.${lower(var.stage)}.handler"
  log_group_name = "/aws/lambda/${local.function_name}"
  log_group_arn  = "arn:${local.partition}:logs:${local.region}:${local.account_id}:log-group:${local.log_group_name}"

  # Defaults keep an EXPRESS run (ETL+Filter+Score+Store+Reactive = 240 s) inside
  # its 5-minute limit; STANDARD workflows pass longer timeouts.
  stage_defaults = {
    ETL      = { memory_size = 1024, timeout = 60 }
    Filter   = { memory_size = 512, timeout = 30 }
    Score    = { memory_size = 1024, timeout = 60 }
    Store    = { memory_size = 1024, timeout = 60 }
    Reactive = { memory_size = 512, timeout = 30 }
  }
  # A custom stage (modules/workflow custom_stages) defaults to 512 MB and 30 s.
  custom_defaults = { memory_size = 512, timeout = 30 }
  memory_size     = coalesce(var.memory_size, try(local.stage_defaults[var.stage], local.custom_defaults).memory_size)
  timeout         = coalesce(var.timeout, try(local.stage_defaults[var.stage], local.custom_defaults).timeout)

  required_environment = merge(
    {
      CEAP_WORKFLOW = var.workflow_name
      CEAP_STAGE    = var.stage
    },
    var.stage == "Store" ? { CEAP_CANDIDATE_TABLE = var.table_name } : {},
    var.stage == "Reactive" ? { CEAP_EVENT_BUS = var.event_bus_name } : {},
  )
  environment = merge(
    {
      POWERTOOLS_SERVICE_NAME      = "ceap-${var.workflow_name}"
      POWERTOOLS_METRICS_NAMESPACE = "CEAP"
    },
    var.environment,
    local.required_environment,
  )
}

resource "aws_cloudwatch_log_group" "this" {
  # checkov:skip=CKV_AWS_338: Retention is a variable (log_retention_days, SPEC default 14 days): these logs are per-run diagnostics, not an audit trail (CloudTrail is); teams that must keep them longer set the variable.
  name              = local.log_group_name
  retention_in_days = var.log_retention_days
  kms_key_id        = var.kms_key_arn
}

resource "aws_lambda_function" "this" {
  # checkov:skip=CKV_AWS_117: The stage reaches only AWS APIs (S3, DynamoDB, EventBridge, KMS, X-Ray) over TLS with IAM auth; a VPC would add NAT/endpoint cost and no isolation benefit.
  # checkov:skip=CKV_AWS_116: Step Functions invokes the function synchronously; failures return to the state machine, whose Retry/Catch handle them (a Lambda DLQ only applies to asynchronous invokes).
  # checkov:skip=CKV_AWS_272: Code signing needs an AWS Signer profile; the code zip is built deterministically and pinned by source_code_hash, so a changed artifact shows up as a plan diff.
  function_name = local.function_name
  description   = "CEAP ${var.workflow_name} workflow: ${var.stage} stage"
  role          = aws_iam_role.this.arn
  handler       = local.handler
  runtime       = var.runtime
  architectures = ["x86_64"] # the layer carries manylinux x86_64 wheels

  s3_bucket        = var.code_s3_bucket
  s3_key           = var.code_s3_key
  source_code_hash = var.code_zip_sha256 # a changed zip redeploys the code in place
  layers           = var.layer_arns

  memory_size                    = local.memory_size
  timeout                        = local.timeout
  reserved_concurrent_executions = var.reserved_concurrency
  kms_key_arn                    = var.kms_key_arn

  environment {
    variables = local.environment
  }

  tracing_config {
    mode = "Active"
  }

  depends_on = [
    aws_cloudwatch_log_group.this,
    aws_iam_role_policy.this,
  ]
}
