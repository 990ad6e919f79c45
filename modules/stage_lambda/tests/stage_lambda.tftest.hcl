mock_provider "aws" {
  override_during = plan
  source          = "../../tests/hcl/mocks/aws"
}

variables {
  workflow_name   = "realtime"
  stage           = "ETL"
  code_s3_bucket  = "ceap-workflow-realtime-123456789012"
  code_s3_key     = "artifacts/stage-code.zip"
  code_zip_sha256 = "47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU="
  runtime         = "python3.12"
  layer_arns      = ["arn:aws:lambda:us-east-1:123456789012:layer:ceap-workflow-realtime-deps:1"]
  kms_key_arn     = "arn:aws:kms:us-east-1:123456789012:key/00000000-0000-4000-8000-000000000000"
  bucket_arn      = "arn:aws:s3:::ceap-workflow-realtime-123456789012"
}

run "etl_function" {
  command = plan

  assert {
    condition     = aws_lambda_function.this.function_name == "CeapWorkflow-realtime-ETLLambda"
    error_message = "function name is CeapWorkflow-{name}-{Stage}Lambda"
  }
  assert {
    condition     = aws_lambda_function.this.handler == "ceap_stages.stages.etl.handler"
    error_message = "ETL handler"
  }
  assert {
    condition     = aws_lambda_function.this.source_code_hash == var.code_zip_sha256 && aws_lambda_function.this.s3_bucket == "ceap-workflow-realtime-123456789012" && aws_lambda_function.this.s3_key == "artifacts/stage-code.zip"
    error_message = "code from the given S3 object, the zip's hash as source_code_hash"
  }
  assert {
    condition     = aws_lambda_function.this.filename == null && output.code_s3_location == { bucket = "ceap-workflow-realtime-123456789012", key = "artifacts/stage-code.zip" }
    error_message = "no local filename: the provider would upload it under its provider-wide lock"
  }
  assert {
    condition     = aws_lambda_function.this.tracing_config[0].mode == "Active"
    error_message = "X-Ray active tracing"
  }
  assert {
    condition     = aws_lambda_function.this.reserved_concurrent_executions == null
    error_message = "no reserved concurrency by default (Lambda keeps 100 unreserved: a default reservation fails on new accounts)"
  }
  assert {
    condition     = aws_lambda_function.this.kms_key_arn == var.kms_key_arn
    error_message = "environment encrypted with the workflow key"
  }
  assert {
    condition     = aws_lambda_function.this.layers == var.layer_arns
    error_message = "shared layer attached"
  }
  assert {
    condition = aws_lambda_function.this.environment[0].variables == tomap({
      CEAP_WORKFLOW                = "realtime"
      CEAP_STAGE                   = "ETL"
      POWERTOOLS_SERVICE_NAME      = "ceap-realtime"
      POWERTOOLS_METRICS_NAMESPACE = "CEAP"
    })
    error_message = "ETL environment per docs/ARCHITECTURE.md"
  }
  assert {
    condition     = aws_cloudwatch_log_group.this.name == "/aws/lambda/CeapWorkflow-realtime-ETLLambda" && aws_cloudwatch_log_group.this.retention_in_days == 14
    error_message = "own log group with 14-day retention"
  }
  assert {
    condition     = aws_cloudwatch_log_group.this.kms_key_id == var.kms_key_arn
    error_message = "log group encrypted with the workflow key"
  }
  assert {
    condition     = aws_lambda_function.this.memory_size == 1024 && aws_lambda_function.this.timeout == 60
    error_message = "ETL defaults 1024 MB / 60 s"
  }
}

run "etl_policy" {
  command = plan

  variables {
    extra_source_bucket_arns = ["arn:aws:s3:::raw-orders"]
    first_stage              = true
  }

  assert {
    condition     = { for s in output.policy.Statement : s.Sid => s.Resource }["KeepExecutionInput"] == "arn:aws:s3:::ceap-workflow-realtime-123456789012/executions/*/input.json"
    error_message = "the first stage writes exactly executions/{id}/input.json beyond its own prefix"
  }
  assert {
    condition     = { for s in output.policy.Statement : s.Sid => s.Resource if s.Sid == "WriteOwnStageData" }["WriteOwnStageData"] == "arn:aws:s3:::ceap-workflow-realtime-123456789012/executions/*/ETL/*"
    error_message = "ETL writes only under executions/*/ETL/"
  }
  assert {
    condition     = length([for s in output.policy.Statement : s if contains(["ReadExecutionData", "ListExecutionData"], s.Sid)]) == 0
    error_message = "the first stage reads no predecessor's data"
  }
  assert {
    condition     = { for s in output.policy.Statement : s.Sid => s.Resource }["ReadSourceFiles"] == ["arn:aws:s3:::ceap-workflow-realtime-123456789012/inputs/*", "arn:aws:s3:::raw-orders/*"]
    error_message = "ETL reads inputs/ and the extra source buckets"
  }
  assert {
    condition     = { for s in output.policy.Statement : s.Sid => s }["ListInputs"].Condition.StringLike["s3:prefix"] == ["inputs/*"]
    error_message = "ETL lists only inputs/ of its bucket"
  }
  assert {
    condition     = { for s in output.policy.Statement : s.Sid => s.Resource }["ListExtraSources"] == tolist(["arn:aws:s3:::raw-orders"])
    error_message = "ETL lists the extra source buckets"
  }
  assert {
    condition     = { for s in output.policy.Statement : s.Sid => s.Resource }["WriteOwnLogs"] == "arn:aws:logs:us-east-1:123456789012:log-group:/aws/lambda/CeapWorkflow-realtime-ETLLambda:*"
    error_message = "logs only to its own group"
  }
  assert {
    condition     = { for s in output.policy.Statement : s.Sid => s.Resource }["UseWorkflowKey"] == var.kms_key_arn
    error_message = "KMS only on the workflow key"
  }
  assert {
    condition     = [for s in output.policy.Statement : s.Sid if s.Resource == "*"] == ["WriteTraces"]
    error_message = "'*' resource only for X-Ray, which has no resource-level permissions"
  }
  assert {
    condition     = alltrue(flatten([for s in output.policy.Statement : [for a in s.Action : a != "*" && !endswith(a, ":*")]]))
    error_message = "no wildcard actions"
  }
  assert {
    condition     = length([for s in output.policy.Statement : s if contains(["WriteCandidates", "PublishEngagementEvents", "ReadModels"], s.Sid)]) == 0
    error_message = "ETL has no table, bus or model access"
  }
  assert {
    condition     = aws_iam_role_policy.this.policy == jsonencode(output.policy)
    error_message = "the role's inline policy is exactly the reviewed document"
  }
  assert {
    condition     = jsondecode(aws_iam_role.this.assume_role_policy).Statement[0].Principal.Service == "lambda.amazonaws.com"
    error_message = "only Lambda assumes the role"
  }
}

run "filter_defaults" {
  command = plan

  variables {
    stage       = "Filter"
    environment = { CEAP_FILTER_MIN_ORDER_VALUE = "10", CEAP_STAGE = "Score" }
  }

  assert {
    condition     = aws_lambda_function.this.function_name == "CeapWorkflow-realtime-FilterLambda" && aws_lambda_function.this.handler == "ceap_stages.stages.filter.handler"
    error_message = "Filter name and handler"
  }
  assert {
    condition     = aws_lambda_function.this.environment[0].variables["CEAP_FILTER_MIN_ORDER_VALUE"] == "10"
    error_message = "extra settings reach the environment"
  }
  assert {
    condition     = aws_lambda_function.this.environment[0].variables["CEAP_STAGE"] == "Filter"
    error_message = "CEAP_STAGE cannot be overridden"
  }
  assert {
    condition     = aws_lambda_function.this.memory_size == 512 && aws_lambda_function.this.timeout == 30
    error_message = "Filter defaults 512 MB / 30 s"
  }
  assert {
    condition     = { for s in output.policy.Statement : s.Sid => s.Resource }["WriteOwnStageData"] == "arn:aws:s3:::ceap-workflow-realtime-123456789012/executions/*/Filter/*"
    error_message = "Filter writes only its own prefix"
  }
  assert {
    condition     = { for s in output.policy.Statement : s.Sid => s.Resource }["ReadExecutionData"] == "arn:aws:s3:::ceap-workflow-realtime-123456789012/executions/*"
    error_message = "a later stage reads executions/* of its own bucket"
  }
  assert {
    condition     = length([for s in output.policy.Statement : s if contains(["ReadSourceFiles", "ListInputs", "ListExtraSources", "KeepExecutionInput"], s.Sid)]) == 0
    error_message = "only ETL reads or lists source files; only the first stage keeps the input"
  }
}

run "score_reads_models" {
  command = plan

  variables {
    stage = "Score"
  }

  assert {
    condition     = { for s in output.policy.Statement : s.Sid => s.Resource }["ReadModels"] == "arn:aws:s3:::ceap-workflow-realtime-123456789012/models/*"
    error_message = "Score reads models/"
  }
  assert {
    condition     = aws_lambda_function.this.handler == "ceap_stages.stages.score.handler"
    error_message = "Score handler"
  }
}

run "store_table" {
  command = plan

  variables {
    stage      = "Store"
    table_name = "ceap-workflow-realtime-candidates"
    table_arn  = "arn:aws:dynamodb:us-east-1:123456789012:table/ceap-workflow-realtime-candidates"
  }

  assert {
    condition     = aws_lambda_function.this.environment[0].variables["CEAP_CANDIDATE_TABLE"] == "ceap-workflow-realtime-candidates"
    error_message = "Store gets CEAP_CANDIDATE_TABLE"
  }
  assert {
    condition     = { for s in output.policy.Statement : s.Sid => s.Resource }["WriteCandidates"] == var.table_arn
    error_message = "Store writes only its table"
  }
  assert {
    condition     = { for s in output.policy.Statement : s.Sid => s.Action }["WriteCandidates"] == ["dynamodb:BatchGetItem", "dynamodb:BatchWriteItem", "dynamodb:PutItem", "dynamodb:GetItem"]
    error_message = "Store reads back and writes items; it never deletes, scans or queries"
  }
}

run "reactive_bus" {
  command = plan

  variables {
    stage          = "Reactive"
    event_bus_name = "ceap-workflow-realtime-events"
    event_bus_arn  = "arn:aws:events:us-east-1:123456789012:event-bus/ceap-workflow-realtime-events"
  }

  assert {
    condition     = aws_lambda_function.this.environment[0].variables["CEAP_EVENT_BUS"] == "ceap-workflow-realtime-events"
    error_message = "Reactive gets CEAP_EVENT_BUS"
  }
  assert {
    condition     = { for s in output.policy.Statement : s.Sid => s }["PublishEngagementEvents"].Resource == var.event_bus_arn && { for s in output.policy.Statement : s.Sid => s }["PublishEngagementEvents"].Action == ["events:PutEvents"]
    error_message = "Reactive may only PutEvents to its bus"
  }
}

run "store_needs_table" {
  command = plan

  variables {
    stage = "Store"
  }

  expect_failures = [var.table_name]
}

run "rejects_heavy_etl" {
  command = plan

  variables {
    stage = "HeavyETL"
  }

  expect_failures = [var.stage]
}

run "rejects_code_key_that_is_not_a_zip" {
  command = plan

  variables {
    code_s3_key = "artifacts/stage-code"
  }

  expect_failures = [var.code_s3_key]
}

run "reserved_concurrency_opt_in" {
  command = plan

  variables {
    reserved_concurrency = 5
  }

  assert {
    condition     = aws_lambda_function.this.reserved_concurrent_executions == 5
    error_message = "an explicit reservation is passed to the function"
  }
}

run "rejects_zero_reserved_concurrency" {
  command = plan

  variables {
    reserved_concurrency = 0
  }

  expect_failures = [var.reserved_concurrency]
}
