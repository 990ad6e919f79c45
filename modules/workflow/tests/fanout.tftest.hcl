# STANDARD fan-out (fanout.tf): ETL -> Filter -> HeavyETL -> FanOut (Distributed Map:
# Score -> Store -> Reactive per part) -> Collect.

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
    condition     = output.definition.States.HeavyETL.Next == "FanOut" && output.definition.States.FanOut.Next == "Collect" && output.definition.States.Collect.End == true
    error_message = "HeavyETL -> FanOut -> Collect"
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
    condition     = output.definition.States.Collect.Parameters.Payload.collect == { source = "HeavyETL", stages = ["Score", "Store", "Reactive"] } && output.definition.States.Collect.Parameters.Payload.currentStage == "Reactive"
    error_message = "Collect writes the three stages' manifests"
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
