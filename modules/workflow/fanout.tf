# Scale: the Distributed Map fan-out of the post-Glue stages (STANDARD) and the
# concurrency settings of Store and Reactive. Kept apart from states.tf and main.tf,
# which use only local.fanout_enabled, local.fanout_states, local.fanout_sfn_statements,
# local.fanout_job_arguments and local.scale_environment.
#
# STANDARD with fanout.enabled: ETL -> Filter -> HeavyETL -> FanOut -> Collect.
# HeavyETL writes executions/{id}/HeavyETL/fanout.json (one item per output part);
# FanOut is a Distributed Map over it (ItemReader, s3:getObject) whose child workflow
# runs Score -> Store -> Reactive on one part each, with the inline stages' Retry lists;
# Collect (the Reactive function, event.collect) writes each stage's output.json from
# the part manifests, so the stage contract is the same as inline
# (lambda_src/ceap_stages/fanout.py). A child that still fails after its retries fails
# the Map and the execution (ToleratedFailure 0); a redrive of the execution re-runs
# the failed children (https://docs.aws.amazon.com/step-functions/latest/dg/redrive-map-run.html).
# Distributed Map is STANDARD-only (https://docs.aws.amazon.com/step-functions/latest/dg/state-map-distributed.html).

locals {
  fanout_enabled = local.is_standard && var.fanout.enabled
  fanout_source  = "HeavyETL"
  fanout_stages  = ["Score", "Store", "Reactive"]

  fanout_child_states = {
    for j, s in local.fanout_stages : s => merge(
      {
        Type     = "Task"
        Resource = "arn:${local.partition}:states:::lambda:invoke"
        Parameters = {
          FunctionName = local.function_arns[s]
          Payload = {
            "executionId.$" = "$.executionId"
            currentStage    = s
            previousStage   = j == 0 ? local.fanout_source : local.fanout_stages[j - 1]
            workflowBucket  = module.storage.bucket_name
            "request.$"     = "$.request"
            "part.$"        = "$.part"
          }
        }
        ResultSelector = local.stage_result
        ResultPath     = "$.result"
        Retry          = local.lambda_retry
      },
      # The last child state returns only its part index: the Map's result stays small
      # for any number of parts (the data and the part manifests are in S3).
      [{ Next = try(local.fanout_stages[j + 1], null) }, { OutputPath = "$.part.index", End = true }][j == length(local.fanout_stages) - 1 ? 1 : 0],
    )
  }

  fanout_map_state = {
    Type = "Map"
    ItemReader = {
      Resource     = "arn:${local.partition}:states:::s3:getObject"
      ReaderConfig = { InputType = "JSON" }
      Parameters = {
        Bucket  = module.storage.bucket_name
        "Key.$" = "States.Format('executions/{}/${local.fanout_source}/fanout.json', $$.Execution.Name)"
      }
    }
    ItemSelector = {
      "part.$"        = "$$.Map.Item.Value"
      "executionId.$" = "$$.Execution.Name"
      "request.$"     = "$.request"
    }
    MaxConcurrency = var.fanout.max_concurrency
    ItemProcessor = {
      ProcessorConfig = { Mode = "DISTRIBUTED", ExecutionType = "STANDARD" }
      StartAt         = local.fanout_stages[0]
      States          = local.fanout_child_states
    }
    ResultPath = null
    Next       = "Collect"
  }

  fanout_collect_state = {
    Type     = "Task"
    Resource = "arn:${local.partition}:states:::lambda:invoke"
    Parameters = {
      FunctionName = local.function_arns["Reactive"]
      Payload = {
        "executionId.$" = "$$.Execution.Name"
        currentStage    = "Reactive"
        previousStage   = "Store"
        workflowBucket  = module.storage.bucket_name
        "request.$"     = "$.request"
        collect         = { source = local.fanout_source, stages = local.fanout_stages }
      }
    }
    ResultSelector = local.stage_result
    ResultPath     = "$.result"
    Retry          = local.lambda_retry
    End            = true
  }

  # Used only when fanout_enabled (states.tf); a tuple index, not a conditional, because
  # the two state maps have different object types.
  fanout_states = merge(
    { for s in ["ETL", "Filter"] : s => local.stage_states[s] },
    { HeavyETL = merge(try(local.stage_states["HeavyETL"], {}), { Next = "FanOut" }) },
    { FanOut = local.fanout_map_state, Collect = local.fanout_collect_state },
  )

  # Child executions of the Map are executions of this state machine; the ItemReader
  # reads fanout.json (KMS-encrypted with the workflow key).
  fanout_sfn_statements = local.fanout_enabled ? [
    {
      Sid      = "RunFanOutChildren"
      Effect   = "Allow"
      Action   = ["states:StartExecution"]
      Resource = local.state_machine_arn
    },
    {
      Sid      = "WatchFanOutChildren"
      Effect   = "Allow"
      Action   = ["states:DescribeExecution", "states:StopExecution"]
      Resource = "arn:${local.partition}:states:${local.region}:${local.account_id}:execution:${local.state_machine_name}/*"
    },
    {
      Sid      = "ReadFanOutItems"
      Effect   = "Allow"
      Action   = ["s3:GetObject"]
      Resource = "${module.storage.bucket_arn}/executions/*/${local.fanout_source}/fanout.json"
    },
    {
      Sid      = "DecryptFanOutItems"
      Effect   = "Allow"
      Action   = ["kms:Decrypt"]
      Resource = module.storage.kms_key_arn
    },
  ] : []

  fanout_job_arguments = local.fanout_enabled ? tomap({ "--records_per_part" = tostring(var.fanout.records_per_part) }) : tomap({})

  # Store and Reactive batches in flight (ceap_stages.concurrency); stage_overrides
  # environment entries win.
  scale_environment = {
    ETL      = {}
    Filter   = {}
    Score    = {}
    Store    = { CEAP_STORE_CONCURRENCY = tostring(var.stage_concurrency.store) }
    Reactive = { CEAP_REACTIVE_CONCURRENCY = tostring(var.stage_concurrency.reactive) }
  }
}
