# STANDARD fan-out (fanout.tf): ETL -> Filter -> HeavyETL -> FanOut (Distributed Map:
# Score -> Store -> Reactive per part) -> CollectScore -> CollectStore -> CollectReactive.

mock_provider "aws" {
  override_during = plan
  source          = "../../tests/hcl/mocks/aws"
}

variables {
  name = "batch"
  type = "STANDARD"
  stage_package = {
    code_zip_path    = "stage-code.zip"
    code_zip_sha256  = "47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU="
    layer_zip_path   = "stage-layer.zip"
    layer_zip_sha256 = "n4bQgYhMfWWaL+qgxVrQFaO/TxsrC4Is0V1sFbDwCgg="
    runtime          = "python3.12"
  }
  glue_script = {
    path   = "heavy_etl.py"
    sha256 = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
  }
}

run "fanout_is_the_standard_default" {
  command = plan

  variables {
    fanout = { max_concurrency = 7, records_per_part = 5000 }
  }

  assert {
    condition     = output.definition.States.HeavyETL.Next == "FanOut" && output.definition.States.FanOut.Next == "CollectScore" && output.definition.States.CollectScore.Next == "CollectStore" && output.definition.States.CollectStore.Next == "CollectReactive" && output.definition.States.CollectReactive.End == true
    error_message = "HeavyETL -> FanOut -> CollectScore -> CollectStore -> CollectReactive"
  }
  assert {
    condition     = !can(output.definition.States.Score) && !can(output.definition.States.Store) && !can(output.definition.States.Reactive)
    error_message = "Score, Store and Reactive run only inside the Map"
  }
  assert {
    condition     = output.definition.States.FanOut.Type == "Map" && output.definition.States.FanOut.ItemProcessor.ProcessorConfig.Mode == "DISTRIBUTED" && output.definition.States.FanOut.ItemProcessor.ProcessorConfig.ExecutionType == "STANDARD" && output.definition.States.FanOut.MaxConcurrency == 7
    error_message = "a Distributed Map of STANDARD children, MaxConcurrency from the variable"
  }
  assert {
    condition     = output.definition.States.FanOut.ItemReader.Resource == "arn:aws:states:::s3:getObject" && output.definition.States.FanOut.ItemReader.ReaderConfig.InputType == "JSON" && output.definition.States.FanOut.ItemReader.Parameters["Key.$"] == "States.Format('executions/{}/HeavyETL/fanout.json', $$.Execution.Name)"
    error_message = "the Map reads HeavyETL's fanout.json"
  }
  assert {
    condition     = output.definition.States.FanOut.ItemProcessor.StartAt == "Score" && output.definition.States.FanOut.ItemProcessor.States.Score.Next == "Store" && output.definition.States.FanOut.ItemProcessor.States.Store.Next == "Reactive" && output.definition.States.FanOut.ItemProcessor.States.Reactive.End == true
    error_message = "each child runs Score -> Store -> Reactive"
  }
  assert {
    condition     = alltrue([for s in ["Score", "Store", "Reactive"] : output.definition.States.FanOut.ItemProcessor.States[s].Parameters.Payload["part.$"] == "$.part" && output.definition.States.FanOut.ItemProcessor.States[s].Retry[0].ErrorEquals == ["Lambda.TooManyRequestsException"] && output.definition.States.FanOut.ItemProcessor.States[s].Retry[0].MaxAttempts == 20])
    error_message = "every child stage gets its part and the inline stages' retries"
  }
  assert {
    condition     = output.definition.States.FanOut.ItemProcessor.States.Score.Parameters.Payload.previousStage == "HeavyETL" && !can(output.definition.States.FanOut.ToleratedFailurePercentage) && !can(output.definition.States.FanOut.Catch)
    error_message = "Score reads HeavyETL's part; a failed child fails the Map (no tolerance, no catch)"
  }
  assert {
    condition     = alltrue([for s, p in { Score = "HeavyETL", Store = "Score", Reactive = "Store" } : output.definition.States["Collect${s}"].Parameters.Payload.collect == { source = "HeavyETL" } && output.definition.States["Collect${s}"].Parameters.Payload.currentStage == s && output.definition.States["Collect${s}"].Parameters.Payload.previousStage == p && output.definition.States["Collect${s}"].Parameters.FunctionName == output.definition.States.FanOut.ItemProcessor.States[s].Parameters.FunctionName && !can(output.definition.States["Collect${s}"].Parameters.Payload["part.$"])])
    error_message = "each stage's own function collects its manifest"
  }
  assert {
    condition     = module.glue_job[0].default_arguments["--records_per_part"] == "5000"
    error_message = "HeavyETL gets --records_per_part"
  }
  assert {
    condition     = length([for s in output.sfn_policy.Statement : s if s.Sid == "RunFanOutChildren" && s.Resource == "arn:aws:states:us-east-1:123456789012:stateMachine:Ceap-batch-Workflow"]) == 1
    error_message = "the state machine may start its own child executions, and only those"
  }
}

run "a_custom_lambda_stage_after_heavy_etl_runs_in_the_child" {
  command = plan

  variables {
    custom_stages = [{ id = "CustomTag", after = "Score", kind = "lambda", handler = "ceap_stages.custom.region_tag.handler" }]
  }

  assert {
    condition     = output.definition.States.FanOut.ItemProcessor.States.Score.Next == "CustomTag" && output.definition.States.FanOut.ItemProcessor.States.CustomTag.Next == "Store" && output.definition.States.FanOut.ItemProcessor.States.CustomTag.Parameters.Payload.previousStage == "Score" && output.definition.States.FanOut.ItemProcessor.States.Store.Parameters.Payload.previousStage == "CustomTag"
    error_message = "the child runs Score -> CustomTag -> Store -> Reactive"
  }
  assert {
    condition     = output.definition.States.CollectScore.Next == "CollectCustomTag" && output.definition.States.CollectCustomTag.Next == "CollectStore" && output.definition.States.CollectCustomTag.Parameters.FunctionName == module.custom_lambda_stage["CustomTag"].function_arn
    error_message = "the custom stage's own function collects its manifest, in stage order"
  }
}

run "a_custom_glue_stage_after_heavy_etl_keeps_the_stages_inline" {
  command = plan

  variables {
    custom_stages = [{ id = "CustomBand", after = "HeavyETL", kind = "glue", module = "ceap_stages.custom.value_band" }]
  }

  assert {
    condition     = output.definition.States.HeavyETL.Next == "CustomBand" && output.definition.States.CustomBand.Next == "Score" && !can(output.definition.States.FanOut) && !can(module.glue_job[0].default_arguments["--records_per_part"])
    error_message = "a Glue job cannot run per part: fanout.enabled null means inline here"
  }
}

run "fanout_required_with_a_custom_glue_stage_after_heavy_etl_is_refused" {
  command = plan

  variables {
    fanout        = { enabled = true }
    custom_stages = [{ id = "CustomBand", after = "Score", kind = "glue", module = "ceap_stages.custom.value_band" }]
  }

  expect_failures = [var.fanout]
}

run "a_custom_glue_stage_before_heavy_etl_fans_out" {
  command = plan

  variables {
    fanout        = { enabled = true }
    custom_stages = [{ id = "CustomBand", after = "Filter", kind = "glue", module = "ceap_stages.custom.value_band" }]
  }

  assert {
    condition     = output.definition.States.CustomBand.Next == "HeavyETL" && output.definition.States.HeavyETL.Next == "FanOut" && output.definition.States.FanOut.ItemProcessor.StartAt == "Score"
    error_message = "only the stages after HeavyETL fan out"
  }
}

run "a_fail_gate_ends_the_map_before_the_next_stage" {
  command = plan

  variables {
    quality_rules = [
      { name = "score-unit", stage = "Score", check = "value_range", fields = ["scores.*.value"], min = 0, max = 1 },
      { name = "store-warn", stage = "Store", check = "min_records", action = "warn" },
    ]
  }

  assert {
    condition     = keys(output.definition.States.FanOut.ItemProcessor.States) == ["Score"] && output.definition.States.FanOut.ItemProcessor.States.Score.End == true && output.definition.States.CollectScore.Next == "FanOutStore"
    error_message = "Score's fail gate is checked by CollectScore before any part reaches Store"
  }
  assert {
    condition     = output.definition.States.FanOutStore.Type == "Map" && output.definition.States.FanOutStore.ItemProcessor.StartAt == "Store" && output.definition.States.FanOutStore.ItemProcessor.States.Store.Parameters.Payload.previousStage == "Score" && output.definition.States.FanOutStore.ItemProcessor.States.Store.Next == "Reactive" && output.definition.States.FanOutStore.Next == "CollectStore" && output.definition.States.CollectStore.Next == "CollectReactive" && output.definition.States.CollectReactive.End == true
    error_message = "a warn rule does not split: Store and Reactive share the second Map"
  }
}

run "express_cannot_require_fanout" {
  command = plan

  variables {
    type   = "EXPRESS"
    fanout = { enabled = true }
  }

  expect_failures = [var.fanout]
}

run "stage_concurrency_reaches_store_and_reactive" {
  command = plan

  variables {
    stage_concurrency = { store = 16, reactive = 4 }
  }

  assert {
    condition     = module.stage["Store"].environment["CEAP_STORE_CONCURRENCY"] == "16" && module.stage["Reactive"].environment["CEAP_REACTIVE_CONCURRENCY"] == "4"
    error_message = "the concurrency settings become the stages' environment"
  }
}

run "fanout_off_keeps_the_inline_stages" {
  command = plan

  variables {
    fanout = { enabled = false }
  }

  assert {
    condition     = output.definition.States.HeavyETL.Next == "Score" && !can(output.definition.States.FanOut) && length([for s in output.sfn_policy.Statement : s if s.Sid == "RunFanOutChildren"]) == 0
    error_message = "inline stages, no fan-out permissions"
  }
}

run "fanout_concurrency_is_validated" {
  command = plan

  variables {
    fanout = { max_concurrency = 0 }
  }

  expect_failures = [var.fanout]
}
