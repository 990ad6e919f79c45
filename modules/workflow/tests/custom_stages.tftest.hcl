# Custom stages: inserted at their named position in the state machine, with their own
# function or Glue job, IAM, alarm and summary entries.

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
  custom_stages = [
    { id = "CustomRegionTag", after = "Filter", kind = "lambda", handler = "ceap_stages.custom.region_tag.handler", memory_size = 256 },
    { id = "CustomValueBand", after = "HeavyETL", kind = "glue", module = "ceap_stages.custom.value_band" },
  ]
  quality_rules = [
    { name = "has-region", stage = "CustomRegionTag", check = "required_fields", fields = ["attributes.region"] },
  ]
}

run "inserted_at_their_position" {
  command = plan

  assert {
    condition     = output.stage_order == tolist(["ETL", "Filter", "CustomRegionTag", "HeavyETL", "CustomValueBand", "Score", "Store", "Reactive"])
    error_message = "each custom stage right after its `after` stage"
  }
  assert {
    condition     = output.definition.States.Filter.Next == "CustomRegionTag" && output.definition.States.CustomRegionTag.Next == "HeavyETL" && output.definition.States.CustomValueBand.Next == "Score"
    error_message = "the states chain through the custom stages"
  }
  assert {
    condition     = output.definition.States.CustomRegionTag.Parameters.Payload.previousStage == "Filter" && output.definition.States.CustomRegionTag.Parameters.FunctionName == module.custom_lambda_stage["CustomRegionTag"].function_arn
    error_message = "the Lambda custom stage reads Filter's manifest, in its own function"
  }
  assert {
    condition     = output.definition.States.CustomValueBand.Resource == "arn:aws:states:::glue:startJobRun.sync" && output.definition.States.CustomValueBand.Parameters.JobName == "ceap-workflow-batch-customvalueband" && output.definition.States.CustomValueBand.Parameters.Arguments["--previous_stage"] == "HeavyETL"
    error_message = "the Glue custom stage runs its own job after HeavyETL"
  }
  assert {
    condition     = output.definition.States.Score.Parameters.Payload.previousStage == "CustomValueBand"
    error_message = "Score reads the custom stage's manifest"
  }
}

run "functions_jobs_iam_alarms" {
  command = plan

  assert {
    condition     = output.function_names.CustomRegionTag == "CeapWorkflow-batch-CustomRegionTagLambda" && module.custom_lambda_stage["CustomRegionTag"].handler == "ceap_stages.custom.region_tag.handler" && module.custom_lambda_stage["CustomRegionTag"].memory_size == 256
    error_message = "the custom Lambda stage: its name, handler and size"
  }
  assert {
    condition     = { for s in module.custom_lambda_stage["CustomRegionTag"].policy.Statement : s.Sid => s.Resource }["WriteOwnStageData"] == "arn:aws:s3:::ceap-workflow-batch-123456789012/executions/*/CustomRegionTag/*"
    error_message = "the custom Lambda stage writes only its own prefix"
  }
  assert {
    condition     = jsondecode(local.quality_environment["CustomRegionTag"].CEAP_QUALITY_RULES)[0].name == "has-region"
    error_message = "quality rules reach a custom Lambda stage"
  }
  assert {
    condition     = { for s in module.custom_glue_stage["CustomValueBand"].policy.Statement : s.Sid => s.Resource }["WriteOwnStageData"] == "arn:aws:s3:::ceap-workflow-batch-123456789012/executions/*/CustomValueBand/*" && !contains([for s in module.custom_glue_stage["CustomValueBand"].policy.Statement : s.Sid], "ReadHistory")
    error_message = "the custom Glue job writes only its own prefix and cannot read the history dataset"
  }
  assert {
    condition     = !contains(keys(module.custom_glue_stage["CustomValueBand"].default_arguments), "--history_uri") && module.custom_glue_stage["CustomValueBand"].default_arguments["--ceap_code_sha256"] == var.stage_package.code_zip_sha256
    error_message = "the custom Glue job gets no history argument, and its code hashes for lineage"
  }
  assert {
    condition     = { for s in output.sfn_policy.Statement : s.Sid => s.Resource }["RunCustomGlueStageJobs"] == ["arn:aws:glue:us-east-1:123456789012:job/ceap-workflow-batch-customvalueband"]
    error_message = "the state machine may run exactly the custom Glue job besides HeavyETL"
  }
  assert {
    condition     = contains(one([for s in output.sfn_policy.Statement : s.Resource if s.Sid == "InvokeStageFunctions"]), module.custom_lambda_stage["CustomRegionTag"].function_arn)
    error_message = "the state machine may invoke the custom function"
  }
  assert {
    condition     = contains(output.summary.alarm_names, "Ceap-batch-Workflow-CustomRegionTag-errors") && output.summary.glue_job_names.CustomValueBand == "ceap-workflow-batch-customvalueband" && output.summary.log_groups.functions.CustomRegionTag == "/aws/lambda/CeapWorkflow-batch-CustomRegionTagLambda"
    error_message = "the summary names the custom stages' alarm, job and log group"
  }
  assert {
    condition     = contains(jsondecode(aws_cloudwatch_event_rule.glue_failed[0].event_pattern).detail.jobName, "ceap-workflow-batch-customvalueband")
    error_message = "a failed custom Glue job run reaches the Glue-failure alarm"
  }
}

run "rejects_glue_stage_in_express" {
  command = plan

  variables {
    type          = "EXPRESS"
    custom_stages = [{ id = "CustomX", after = "Filter", kind = "glue", module = "m.x" }]
    quality_rules = []
  }

  expect_failures = [var.custom_stages]
}

run "rejects_bad_custom_id" {
  command = plan

  variables {
    custom_stages = [{ id = "RegionTag", after = "Filter", kind = "lambda", handler = "m.handler" }]
    quality_rules = []
  }

  expect_failures = [var.custom_stages]
}

run "rejects_unknown_position" {
  command = plan

  variables {
    custom_stages = [{ id = "CustomX", after = "Nowhere", kind = "lambda", handler = "m.handler" }]
    quality_rules = []
  }

  expect_failures = [var.custom_stages]
}

run "rejects_lambda_without_handler" {
  command = plan

  variables {
    custom_stages = [{ id = "CustomX", after = "Filter", kind = "lambda" }]
    quality_rules = []
  }

  expect_failures = [var.custom_stages]
}
