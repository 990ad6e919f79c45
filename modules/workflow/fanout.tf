# Scale: the Distributed Map fan-out of the post-Glue stages (STANDARD) and the
# concurrency settings of Store and Reactive. Kept apart from states.tf and main.tf,
# which use only local.fanout_enabled, local.fanout_states, local.fanout_sfn_statements,
# local.fanout_job_arguments and local.scale_environment.
#
# STANDARD with fan-out: ETL -> Filter -> HeavyETL -> FanOut -> CollectScore ->
# CollectStore -> CollectReactive (custom stages in their places of stage_order).
# HeavyETL writes executions/{id}/HeavyETL/fanout.json (one item per output part);
# FanOut is a Distributed Map over it (ItemReader, s3:getObject) whose child workflow
# runs the stages after HeavyETL on one part each, with the inline stages' Retry lists;
# then one Collect<Stage> step per stage invokes that stage's own function with
# event.collect: it writes the stage's output.json from the part manifests with the
# lineage and data-quality results an inline run records, so the stage contract is the
# same as inline (lambda_src/ceap_stages/fanout.py).
#
# Data-quality gates are checked over the whole stage in its Collect step (the same
# shares and counts as inline). A stage with a `fail` rule ends the Map: the stages after
# it run in a second Map (FanOut<NextStage>) after its Collect step, so no part reaches
# them when the gate refuses the stage, as inline. A custom Glue stage after HeavyETL
# cannot run once per part: fan-out is then off by default and refused when asked for
# (var.fanout validation).
#
# A child that still fails after its retries fails the Map and the execution
# (ToleratedFailure 0); a redrive of the execution re-runs the failed children
# (https://docs.aws.amazon.com/step-functions/latest/dg/redrive-map-run.html).
# Distributed Map is STANDARD-only (https://docs.aws.amazon.com/step-functions/latest/dg/state-map-distributed.html).

locals {
  fanout_source = "HeavyETL"
  # The stages after HeavyETL, in stage_order (custom Lambda stages included).
  fanout_stages = local.is_standard ? slice(local.stage_order, index(local.stage_order, local.fanout_source) + 1, length(local.stage_order)) : []
  # Possible when none of them is a Glue job (a custom Glue stage after HeavyETL).
  fanout_possible = local.is_standard && length(setintersection(local.fanout_stages, local.glue_stage_ids)) == 0
  fanout_enabled  = var.fanout.enabled == null ? local.fanout_possible : (var.fanout.enabled && local.fanout_possible)

  # Stages with a `fail` quality rule end a segment: each segment is one Map.
  fanout_gated = [for s in local.fanout_stages : s if length([for r in var.quality_rules : r if r.stage == s && r.action == "fail"]) > 0]
  fanout_segment_of = [
    for j, s in local.fanout_stages : length([for k in range(j) : k if contains(local.fanout_gated, local.fanout_stages[k])])
  ]
  # (none when fan-out is off: the states below are then never built)
  fanout_segments = local.fanout_enabled ? [
    for n in distinct(local.fanout_segment_of) : [for j, s in local.fanout_stages : s if local.fanout_segment_of[j] == n]
  ] : []
  fanout_map_names = [for n, seg in local.fanout_segments : n == 0 ? "FanOut" : "FanOut${seg[0]}"]
  fanout_previous  = { for j, s in local.fanout_stages : s => j == 0 ? local.fanout_source : local.fanout_stages[j - 1] }

  fanout_child_states = [
    for seg in local.fanout_segments : {
      for j, s in seg : s => merge(
        {
          Type     = "Task"
          Resource = "arn:${local.partition}:states:::lambda:invoke"
          Parameters = {
            FunctionName = local.function_arns[s]
            Payload = {
              "executionId.$" = "$.executionId"
              currentStage    = s
              previousStage   = local.fanout_previous[s]
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
        [{ Next = try(seg[j + 1], null) }, { OutputPath = "$.part.index", End = true }][j == length(seg) - 1 ? 1 : 0],
      )
    }
  ]

  fanout_map_states = {
    for n, seg in local.fanout_segments : local.fanout_map_names[n] => {
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
        StartAt         = seg[0]
        States          = local.fanout_child_states[n]
      }
      ResultPath = null
      Next       = "Collect${seg[0]}"
    }
  }

  # After segment n's Map: Collect<Stage> for each of its stages, then the next Map.
  fanout_collect_next = merge({}, [
    for n, seg in local.fanout_segments : {
      for j, s in seg : s => j < length(seg) - 1 ? "Collect${seg[j + 1]}" : try(local.fanout_map_names[n + 1], "")
    }
  ]...)
  fanout_collect_states = merge({}, [
    for n, seg in local.fanout_segments : {
      for j, s in seg : "Collect${s}" => merge(
        {
          Type     = "Task"
          Resource = "arn:${local.partition}:states:::lambda:invoke"
          Parameters = {
            FunctionName = local.function_arns[s]
            Payload = {
              "executionId.$" = "$$.Execution.Name"
              currentStage    = s
              previousStage   = local.fanout_previous[s]
              workflowBucket  = module.storage.bucket_name
              "request.$"     = "$.request"
              collect         = { source = local.fanout_source }
            }
          }
          ResultSelector = local.stage_result
          ResultPath     = "$.result"
          Retry          = local.lambda_retry
        },
        [{ Next = local.fanout_collect_next[s] }, { End = true }][local.fanout_collect_next[s] == "" ? 1 : 0],
      )
    }
  ]...)

  # Used only when fanout_enabled (states.tf); a tuple index, not a conditional, because
  # the two state maps have different object types.
  fanout_states = merge(
    { for s, state in local.stage_states : s => state if !contains(local.fanout_stages, s) && s != local.fanout_source },
    { (local.fanout_source) = merge(try(local.stage_states[local.fanout_source], {}), { Next = "FanOut" }) },
    local.fanout_map_states,
    local.fanout_collect_states,
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
