# The state machine, generated from local.stage_order: no hand-written ASL.
#
# Every Lambda task passes the stage event of docs/ARCHITECTURE.md (execution name,
# current and previous stage, bucket, the execution input) and keeps only the
# stage's small result as the state; data travels through S3. Retryable errors are
# retried twice with exponential backoff; anything else (StageInputError,
# StageConfigError, or retries exhausted) goes to one Fail state with the error and
# cause of the failing stage.

locals {
  # Must equal ceap_stages.errors.RETRYABLE_ERROR_NAMES (tests/hcl checks it).
  retryable_lambda_errors = [
    "StageTransientError",
    "Lambda.ServiceException",
    "Lambda.AWSLambdaException",
    "Lambda.SdkClientException",
    "Lambda.TooManyRequestsException",
  ]

  fail_state = "WorkflowFailed"

  lambda_retry = [
    {
      ErrorEquals     = local.retryable_lambda_errors
      IntervalSeconds = 2
      MaxAttempts     = 2
      BackoffRate     = 2
    },
  ]

  # SPEC: the Glue task retries 2 attempts, 300 s apart, backoff 2. States.TaskFailed
  # matches a failed, timed-out or rejected (e.g. concurrent-runs) job run.
  glue_retry = [
    {
      ErrorEquals     = ["States.TaskFailed"]
      IntervalSeconds = 300
      MaxAttempts     = 2
      BackoffRate     = 2
    },
  ]

  catch_all = [
    {
      ErrorEquals = ["States.ALL"]
      ResultPath  = "$"
      Next        = local.fail_state
    },
  ]

  function_arns = { for s, m in module.stage : s => m.function_arn }

  lambda_task = {
    for i, s in local.stage_order : s => {
      Type     = "Task"
      Resource = "arn:${local.partition}:states:::lambda:invoke"
      Parameters = {
        FunctionName = try(local.function_arns[s], null)
        Payload = {
          "executionId.$" = "$$.Execution.Name"
          currentStage    = s
          previousStage   = i == 0 ? null : local.stage_order[i - 1]
          workflowBucket  = module.storage.bucket_name
          "initialData.$" = "$$.Execution.Input"
        }
      }
      # Keep only the stage's small result (docs/ARCHITECTURE.md "Lambda result").
      ResultSelector = {
        "status.$"        = "$.Payload.status"
        "stage.$"         = "$.Payload.stage"
        "executionId.$"   = "$.Payload.executionId"
        "recordCount.$"   = "$.Payload.recordCount"
        "rejectedCount.$" = "$.Payload.rejectedCount"
        "manifestKey.$"   = "$.Payload.manifestKey"
      }
      ResultPath = "$"
      Retry      = local.lambda_retry
      Catch      = local.catch_all
    } if s != "HeavyETL"
  }

  glue_task = {
    for i, s in local.stage_order : s => {
      Type     = "Task"
      Resource = "arn:${local.partition}:states:::glue:startJobRun.sync"
      Parameters = {
        JobName = local.glue_job_name
        Arguments = {
          "--execution_id.$"  = "$$.Execution.Name"
          "--workflow_bucket" = module.storage.bucket_name
          "--previous_stage"  = local.stage_order[i - 1]
          "--current_stage"   = s
        }
      }
      # Keep a small result shaped like a Lambda stage's (the job writes its manifest).
      ResultSelector = {
        "status.$"      = "$.JobRunState"
        stage           = s
        "executionId.$" = "$$.Execution.Name"
        "jobRunId.$"    = "$.Id"
        "manifestKey.$" = "States.Format('executions/{}/${s}/output.json', $$.Execution.Name)"
      }
      ResultPath = "$"
      Retry      = local.glue_retry
      Catch      = local.catch_all
    } if s == "HeavyETL"
  }

  last_index = length(local.stage_order) - 1

  stage_states = {
    for i, s in local.stage_order : s => merge(
      s == "HeavyETL" ? local.glue_task[s] : local.lambda_task[s],
      [{ Next = try(local.stage_order[i + 1], null) }, { End = true }][i == local.last_index ? 1 : 0],
    )
  }

  definition = merge(
    {
      Comment = "CEAP ${var.name} workflow (${var.type}): ${join(" -> ", local.stage_order)}"
      StartAt = local.stage_order[0]
      States = merge(local.stage_states, {
        (local.fail_state) = {
          Type      = "Fail"
          ErrorPath = "$.Error"
          CausePath = "$.Cause"
        }
      })
    },
    [{}, { TimeoutSeconds = var.standard_execution_timeout_seconds }][local.is_standard && var.standard_execution_timeout_seconds != null ? 1 : 0],
  )
}

resource "aws_cloudwatch_log_group" "states" {
  # checkov:skip=CKV_AWS_338: Retention is a variable (log_retention_days, SPEC default 14 days): these logs are per-run diagnostics, not an audit trail (CloudTrail is); teams that must keep them longer set the variable.
  name              = local.states_log_group
  retention_in_days = var.log_retention_days
  kms_key_id        = module.storage.kms_key_arn
}

resource "aws_sfn_state_machine" "this" {
  name       = local.state_machine_name
  role_arn   = aws_iam_role.sfn.arn
  type       = var.type
  definition = jsonencode(local.definition)

  logging_configuration {
    log_destination        = "arn:${local.partition}:logs:${local.region}:${local.account_id}:log-group:${aws_cloudwatch_log_group.states.name}:*"
    include_execution_data = true
    level                  = "ALL"
  }

  tracing_configuration {
    enabled = true
  }

  depends_on = [aws_iam_role_policy.sfn]
}
