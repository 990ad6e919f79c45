# The state machine, generated from local.stage_order: no hand-written ASL.
#
# The first stage gets the execution input (initialData) and keeps it once, at
# executions/{id}/input.json; its result carries the request header (ids, dates,
# source; never records), kept at $.request, and every later stage gets only that.
# Each stage's small result replaces $.result; data travels through S3.
#
# Retries: Lambda throttling has a budget that absorbs a burst (exponential with full
# jitter, capped); other retryable stage errors are retried twice. The Glue task
# retries its API faults (concurrent-runs limit, service errors) by name; a failed job
# run (States.TaskFailed) is never retried here, so a deterministic failure (script
# error, bad input) fails the execution at once, in the HeavyETL state (a redrive
# resumes there). Transient causes inside a run (lost executors, throttling) are
# retried where they happen: by Spark and by the job's S3 client. Anything else fails the
# execution in the failing stage's own state, with that stage's error and cause. There is
# deliberately no Catch into a Fail state: RedriveExecution resumes at the state where
# the execution failed, so a catch-all Fail state would make every redrive fail again at
# once instead of re-running the failed stage
# (https://docs.aws.amazon.com/step-functions/latest/dg/redrive-executions.html).

locals {
  # Their union must equal ceap_stages.errors.RETRYABLE_ERROR_NAMES (tests/hcl checks it).
  throttling_lambda_errors = ["Lambda.TooManyRequestsException"]
  retryable_lambda_errors = [
    "StageTransientError",
    "Lambda.ServiceException",
    "Lambda.AWSLambdaException",
    "Lambda.SdkClientException",
    # A function timeout (Lambda: Sandbox.Timedout; Step Functions' docs: Lambda.Unknown,
    # which also covers running out of memory): retried, then the execution fails.
    "Sandbox.Timedout",
    "Lambda.Unknown",
  ]

  lambda_retry = [
    {
      # Under a burst Lambda throttles (account concurrency). No AWS setting bounds the
      # pipe's concurrency (pipe.tf); this budget absorbs the burst instead of failing
      # the message: waits of at most 121 s (EXPRESS, 8 attempts) or 481 s (STANDARD,
      # 20), half that on average.
      ErrorEquals     = local.throttling_lambda_errors
      IntervalSeconds = 1
      MaxAttempts     = local.throttle_retry_max_attempts
      BackoffRate     = 2
      MaxDelaySeconds = 30
      JitterStrategy  = "FULL"
    },
    {
      ErrorEquals     = local.retryable_lambda_errors
      IntervalSeconds = 2
      MaxAttempts     = 2
      BackoffRate     = 2
    },
  ]

  # Errors Step Functions reports when StartJobRun itself fails transiently
  # (https://docs.aws.amazon.com/step-functions/latest/dg/connect-glue.html: API
  # errors surface as Glue.<Exception>). A failed or timed-out job run is
  # States.TaskFailed, deliberately not in this list.
  glue_api_retry = [
    {
      ErrorEquals     = ["Glue.ConcurrentRunsExceededException"]
      IntervalSeconds = 30
      MaxAttempts     = 12
      BackoffRate     = 2
      MaxDelaySeconds = 300
      JitterStrategy  = "FULL"
    },
    {
      ErrorEquals     = ["Glue.InternalServiceException", "Glue.OperationTimeoutException", "Glue.ThrottlingException"]
      IntervalSeconds = 10
      MaxAttempts     = 4
      BackoffRate     = 2
      JitterStrategy  = "FULL"
    },
  ]

  function_arns = merge(
    { for s, m in module.stage : s => m.function_arn },
    { for s, m in module.custom_lambda_stage : s => m.function_arn },
  )

  # The small result every Lambda stage returns (docs/ARCHITECTURE.md "Lambda result").
  stage_result = {
    "status.$"        = "$.Payload.status"
    "stage.$"         = "$.Payload.stage"
    "executionId.$"   = "$.Payload.executionId"
    "recordCount.$"   = "$.Payload.recordCount"
    "rejectedCount.$" = "$.Payload.rejectedCount"
    "manifestKey.$"   = "$.Payload.manifestKey"
  }

  lambda_task = {
    for i, s in local.stage_order : s => {
      Type     = "Task"
      Resource = "arn:${local.partition}:states:::lambda:invoke"
      Parameters = {
        FunctionName = try(local.function_arns[s], null)
        Payload = merge(
          {
            "executionId.$" = "$$.Execution.Name"
            currentStage    = s
            previousStage   = i == 0 ? null : local.stage_order[i - 1]
            workflowBucket  = module.storage.bucket_name
          },
          [{ "initialData.$" = "$$.Execution.Input" }, { "request.$" = "$.request" }][i == 0 ? 0 : 1],
        )
      }
      # The first stage's result builds the state {request, result}; later stages
      # replace only $.result.
      ResultSelector = [{ "request.$" = "$.Payload.request", result = local.stage_result }, local.stage_result][i == 0 ? 0 : 1]
      ResultPath     = i == 0 ? "$" : "$.result"
      Retry          = local.lambda_retry
    } if !contains(local.glue_stage_ids, s)
  }

  glue_task = {
    for i, s in local.stage_order : s => {
      Type     = "Task"
      Resource = "arn:${local.partition}:states:::glue:startJobRun.sync"
      Parameters = {
        JobName = local.glue_job_names[s]
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
      ResultPath = "$.result"
      Retry      = local.glue_api_retry
    } if contains(local.glue_stage_ids, s)
  }

  last_index = length(local.stage_order) - 1

  stage_states = {
    for i, s in local.stage_order : s => merge(
      contains(local.glue_stage_ids, s) ? local.glue_task[s] : local.lambda_task[s],
      [{ Next = try(local.stage_order[i + 1], null) }, { End = true }][i == local.last_index ? 1 : 0],
    )
  }

  definition = merge(
    {
      Comment = "CEAP ${var.name} workflow (${var.type}): ${join(" -> ", local.stage_order)}${local.fanout_enabled ? " (Score -> Store -> Reactive per part: FanOut, Collect)" : ""}"
      StartAt = local.stage_order[0]
      States  = [local.stage_states, local.fanout_states][local.fanout_enabled ? 1 : 0]
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
  # checkov:skip=CKV_AWS_285: Execution history is logged at level ALL (every event); only the execution data is off by default (include_execution_data, a variable): it holds customer order records, which stay in the encrypted, expiring executions/{id}/input.json instead (Step Functions docs advise includeExecutionData=false for sensitive inputs).
  name       = local.state_machine_name
  role_arn   = aws_iam_role.sfn.arn
  type       = var.type
  definition = jsonencode(local.definition)

  logging_configuration {
    log_destination        = "arn:${local.partition}:logs:${local.region}:${local.account_id}:log-group:${aws_cloudwatch_log_group.states.name}:*"
    include_execution_data = var.include_execution_data
    level                  = "ALL"
  }

  tracing_configuration {
    enabled = true
  }

  depends_on = [aws_iam_role_policy.sfn]
}
