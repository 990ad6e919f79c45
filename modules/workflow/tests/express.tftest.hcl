mock_provider "aws" {
  override_during = plan
  source          = "../../tests/hcl/mocks/aws"
}

variables {
  name = "realtime"
  type = "EXPRESS"
  stage_package = {
    code_zip_path    = "stage-code.zip"
    code_zip_sha256  = "47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU="
    layer_zip_path   = "stage-layer.zip"
    layer_zip_sha256 = "n4bQgYhMfWWaL+qgxVrQFaO/TxsrC4Is0V1sFbDwCgg="
    runtime          = "python3.12"
  }
}

run "state_machine" {
  command = plan

  assert {
    condition     = aws_sfn_state_machine.this.name == "Ceap-realtime-Workflow" && aws_sfn_state_machine.this.type == "EXPRESS"
    error_message = "EXPRESS state machine Ceap-{name}-Workflow"
  }
  assert {
    condition     = jsondecode(aws_sfn_state_machine.this.definition) == output.definition
    error_message = "the deployed definition is the generated one"
  }
  assert {
    condition     = output.definition.StartAt == "ETL"
    error_message = "starts at ETL"
  }
  assert {
    condition     = keys(output.definition.States) == ["ETL", "Filter", "Reactive", "Score", "Store"]
    error_message = "five Lambda stages, no HeavyETL"
  }
  assert {
    condition     = [for s in ["ETL", "Filter", "Score", "Store"] : output.definition.States[s].Next] == ["Filter", "Score", "Store", "Reactive"]
    error_message = "ETL -> Filter -> Score -> Store -> Reactive"
  }
  assert {
    condition     = output.definition.States.Reactive.End == true
    error_message = "Reactive ends the execution"
  }
  assert {
    condition     = !contains(keys(output.definition), "TimeoutSeconds")
    error_message = "EXPRESS has no TimeoutSeconds (the 5-minute limit applies)"
  }
  assert {
    condition     = one(aws_sfn_state_machine.this.logging_configuration).level == "ALL" && !one(aws_sfn_state_machine.this.logging_configuration).include_execution_data
    error_message = "logging level ALL (every event, so EXPRESS runs stay listable) without execution data by default"
  }
  assert {
    condition     = one(aws_sfn_state_machine.this.logging_configuration).log_destination == "arn:aws:logs:us-east-1:123456789012:log-group:/aws/vendedlogs/states/Ceap-realtime-Workflow:*"
    error_message = "logs to /aws/vendedlogs/states/Ceap-{name}-Workflow"
  }
  assert {
    condition     = aws_cloudwatch_log_group.states.retention_in_days == 14 && aws_cloudwatch_log_group.states.kms_key_id == output.kms_key_arn
    error_message = "state machine logs kept 14 days, encrypted"
  }
  assert {
    condition     = one(aws_sfn_state_machine.this.tracing_configuration).enabled
    error_message = "X-Ray tracing on"
  }
}

run "lambda_tasks" {
  command = plan

  assert {
    condition = output.definition.States.ETL.Parameters == {
      FunctionName = "arn:aws:lambda:us-east-1:123456789012:function:CeapWorkflow-realtime-ETLLambda"
      Payload = {
        "executionId.$" = "$$.Execution.Name"
        currentStage    = "ETL"
        previousStage   = null
        workflowBucket  = "ceap-workflow-realtime-123456789012"
        "initialData.$" = "$$.Execution.Input"
      }
    }
    error_message = "ETL gets the stage event with previousStage null and the execution input"
  }
  assert {
    condition     = [for s in ["Filter", "Score", "Store", "Reactive"] : output.definition.States[s].Parameters.Payload.previousStage] == ["ETL", "Filter", "Score", "Store"]
    error_message = "each stage names its predecessor"
  }
  assert {
    condition = alltrue([for s in ["Filter", "Score", "Store", "Reactive"] : output.definition.States[s].Parameters.Payload == {
      "executionId.$" = "$$.Execution.Name"
      currentStage    = s
      previousStage   = output.definition.States[s].Parameters.Payload.previousStage
      workflowBucket  = "ceap-workflow-realtime-123456789012"
      "request.$"     = "$.request"
    }])
    error_message = "later stages get only the request header, never the execution input"
  }
  assert {
    condition     = alltrue([for s in ["ETL", "Filter", "Score", "Store", "Reactive"] : output.definition.States[s].Resource == "arn:aws:states:::lambda:invoke"])
    error_message = "lambda:invoke tasks"
  }
  assert {
    condition     = output.definition.States.ETL.ResultPath == "$" && output.definition.States.ETL.ResultSelector["request.$"] == "$.Payload.request" && output.definition.States.ETL.ResultSelector.result == output.definition.States.Filter.ResultSelector
    error_message = "the first stage's result builds the state {request, result}"
  }
  assert {
    condition     = alltrue([for s in ["Filter", "Score", "Store", "Reactive"] : output.definition.States[s].ResultPath == "$.result"])
    error_message = "later stages replace only $.result"
  }
  assert {
    condition = output.definition.States.Filter.ResultSelector == {
      "status.$"        = "$.Payload.status"
      "stage.$"         = "$.Payload.stage"
      "executionId.$"   = "$.Payload.executionId"
      "recordCount.$"   = "$.Payload.recordCount"
      "rejectedCount.$" = "$.Payload.rejectedCount"
      "manifestKey.$"   = "$.Payload.manifestKey"
    }
    error_message = "only the small stage result is kept"
  }
  assert {
    condition = alltrue([for s in ["ETL", "Filter", "Score", "Store", "Reactive"] : output.definition.States[s].Retry == [
      {
        ErrorEquals     = ["Lambda.TooManyRequestsException"]
        IntervalSeconds = 1
        MaxAttempts     = 8
        BackoffRate     = 2
        MaxDelaySeconds = 30
        JitterStrategy  = "FULL"
      },
      {
        ErrorEquals     = ["StageTransientError", "Lambda.ServiceException", "Lambda.AWSLambdaException", "Lambda.SdkClientException", "Sandbox.Timedout", "Lambda.Unknown"]
        IntervalSeconds = 2
        MaxAttempts     = 2
        BackoffRate     = 2
      },
    ]])
    error_message = "throttling: a capped, jittered budget; other retryable errors: 2 attempts, exponential backoff"
  }
  assert {
    condition     = !anytrue(flatten([for n, s in output.definition.States : [for r in try(s.Retry, []) : contains(r.ErrorEquals, "StageInputError") || contains(r.ErrorEquals, "StageConfigError") || contains(r.ErrorEquals, "States.ALL")]]))
    error_message = "input and config errors are never retried"
  }
  assert {
    condition     = !anytrue([for n, s in output.definition.States : can(s.Catch) || s.Type == "Fail"])
    error_message = "no Catch and no Fail state: a failed stage fails the execution in its own state, where RedriveExecution resumes"
  }
}

run "functions" {
  command = plan

  assert {
    condition = output.function_names == {
      ETL      = "CeapWorkflow-realtime-ETLLambda"
      Filter   = "CeapWorkflow-realtime-FilterLambda"
      Score    = "CeapWorkflow-realtime-ScoreLambda"
      Store    = "CeapWorkflow-realtime-StoreLambda"
      Reactive = "CeapWorkflow-realtime-ReactiveLambda"
    }
    error_message = "five functions named CeapWorkflow-{name}-{Stage}Lambda"
  }
  assert {
    condition     = sum([for s, m in module.stage : m.timeout]) < 300
    error_message = "EXPRESS stage timeouts add up to less than 5 minutes"
  }
  assert {
    condition     = alltrue([for s, m in module.stage : m.reserved_concurrency == null])
    error_message = "no stage reserves concurrency by default (Lambda keeps 100 unreserved; new accounts have a quota of 10 or 50)"
  }
  assert {
    condition     = aws_lambda_layer_version.deps.layer_name == "ceap-workflow-realtime-deps" && aws_lambda_layer_version.deps.source_code_hash == var.stage_package.layer_zip_sha256
    error_message = "one dependency layer per workflow"
  }
  assert {
    condition     = aws_lambda_layer_version.deps.compatible_runtimes == toset(["python3.12"])
    error_message = "layer built for the stage runtime"
  }
  assert {
    condition     = length(module.glue_job) == 0
    error_message = "no Glue job in EXPRESS"
  }
}

run "artifacts" {
  command = plan

  assert {
    condition = (
      aws_s3_object.stage_code[0].bucket == "ceap-workflow-realtime-123456789012" && aws_s3_object.stage_code[0].key == "artifacts/stage-code.zip"
      && aws_s3_object.stage_layer[0].bucket == "ceap-workflow-realtime-123456789012" && aws_s3_object.stage_layer[0].key == "artifacts/stage-layer.zip"
    )
    error_message = "code and layer zips go to the workflow bucket under artifacts/"
  }
  assert {
    condition = (
      aws_s3_object.stage_code[0].source == "stage-code.zip" && aws_s3_object.stage_code[0].source_hash == var.stage_package.code_zip_sha256
      && aws_s3_object.stage_layer[0].source == "stage-layer.zip" && aws_s3_object.stage_layer[0].source_hash == var.stage_package.layer_zip_sha256
    )
    error_message = "each object is uploaded from its zip and re-uploaded when the zip's hash changes"
  }
  assert {
    condition = alltrue([
      for o in [aws_s3_object.stage_code[0], aws_s3_object.stage_layer[0]] : o.server_side_encryption == "aws:kms" && o.kms_key_id == output.kms_key_arn
    ])
    error_message = "artifacts are encrypted with the workflow key (SSE-KMS)"
  }
  assert {
    condition = alltrue([
      for s, m in module.stage : m.code_s3_location == {
        bucket = "ceap-workflow-realtime-123456789012"
        key    = "artifacts/stage-code.zip"
      }
    ])
    error_message = "every function is created from the one uploaded code object"
  }
  assert {
    condition = (
      aws_lambda_layer_version.deps.s3_bucket == aws_s3_object.stage_layer[0].bucket && aws_lambda_layer_version.deps.s3_key == aws_s3_object.stage_layer[0].key
      && aws_lambda_layer_version.deps.filename == null
    )
    error_message = "the layer is created from the uploaded layer object"
  }
  assert {
    condition     = [for r in module.storage.lifecycle_rules : r.id if startswith("artifacts/stage-code.zip", r.filter[0].prefix)] == ["bucket-hygiene"]
    error_message = "only the bucket-wide hygiene rule covers artifacts/ (the executions/ expiry does not)"
  }
  assert {
    condition     = one([for r in module.storage.lifecycle_rules : r.noncurrent_version_expiration[0].noncurrent_days if r.id == "bucket-hygiene"]) == 30
    error_message = "earlier artifact uploads (noncurrent versions) expire after 30 days"
  }
}

run "iam" {
  command = plan

  assert {
    condition = toset({ for s in output.sfn_policy.Statement : s.Sid => s.Resource }["InvokeStageFunctions"]) == toset(flatten([
      for s in ["ETL", "Filter", "Score", "Store", "Reactive"] : [
        "arn:aws:lambda:us-east-1:123456789012:function:CeapWorkflow-realtime-${s}Lambda",
        "arn:aws:lambda:us-east-1:123456789012:function:CeapWorkflow-realtime-${s}Lambda:*",
      ]
    ]))
    error_message = "the state machine invokes exactly its five functions"
  }
  assert {
    condition     = [for s in output.sfn_policy.Statement : s.Sid] == ["InvokeStageFunctions", "DeliverExecutionLogs", "WriteTraces"]
    error_message = "no Glue permissions in EXPRESS"
  }
  assert {
    condition     = [for s in output.sfn_policy.Statement : s.Sid if s.Resource == "*"] == ["DeliverExecutionLogs", "WriteTraces"]
    error_message = "'*' resource only for log delivery and X-Ray"
  }
  assert {
    condition     = alltrue(flatten([for p in [output.sfn_policy, output.pipe_policy] : [for s in p.Statement : [for a in s.Action : a != "*" && !endswith(a, ":*")]]]))
    error_message = "no wildcard actions"
  }
  assert {
    condition     = aws_iam_role_policy.sfn.policy == jsonencode(output.sfn_policy) && aws_iam_role_policy.pipe.policy == jsonencode(output.pipe_policy)
    error_message = "inline policies are exactly the reviewed documents"
  }
  assert {
    condition     = jsondecode(aws_iam_role.sfn.assume_role_policy).Statement[0].Condition.ArnLike["aws:SourceArn"][0] == "arn:aws:states:us-east-1:123456789012:stateMachine:Ceap-realtime-Workflow"
    error_message = "only this state machine assumes its role"
  }
  assert {
    condition = output.pipe_policy.Statement == [
      {
        Sid      = "ConsumeWorkflowQueue"
        Effect   = "Allow"
        Action   = ["sqs:ReceiveMessage", "sqs:DeleteMessage", "sqs:GetQueueAttributes"]
        Resource = "arn:aws:sqs:us-east-1:123456789012:ceap-workflow-realtime-queue"
      },
      {
        Sid      = "StartWorkflow"
        Effect   = "Allow"
        Action   = ["states:StartSyncExecution"]
        Resource = "arn:aws:states:us-east-1:123456789012:stateMachine:Ceap-realtime-Workflow"
      },
      {
        Sid      = "DecryptQueueMessages"
        Effect   = "Allow"
        Action   = ["kms:Decrypt"]
        Resource = "arn:aws:kms:us-east-1:123456789012:key/00000000-0000-4000-8000-000000000000"
      },
    ]
    error_message = "the pipe reads its queue and starts its state machine synchronously, nothing else"
  }
}

run "pipe" {
  command = plan

  assert {
    condition     = aws_pipes_pipe.this.name == "ceap-workflow-realtime-pipe" && aws_pipes_pipe.this.source == "arn:aws:sqs:us-east-1:123456789012:ceap-workflow-realtime-queue"
    error_message = "the pipe reads the workflow queue"
  }
  assert {
    condition     = one(one(aws_pipes_pipe.this.target_parameters).step_function_state_machine_parameters).invocation_type == "REQUEST_RESPONSE"
    error_message = "EXPRESS runs synchronously"
  }
  assert {
    condition     = one(one(aws_pipes_pipe.this.source_parameters).sqs_queue_parameters).batch_size == 1
    error_message = "one message per execution"
  }
  assert {
    condition     = one(aws_pipes_pipe.this.target_parameters).input_template == "<$.body>"
    error_message = "the execution input is the message body"
  }
}

run "alarms" {
  command = plan

  assert {
    condition     = aws_cloudwatch_metric_alarm.failure_rate.threshold == 5 && aws_cloudwatch_metric_alarm.failure_rate.comparison_operator == "GreaterThanThreshold"
    error_message = "failure rate > 5 %"
  }
  assert {
    condition     = one([for q in aws_cloudwatch_metric_alarm.failure_rate.metric_query : q.expression if q.return_data == true]) == "IF(FILL(started, 0) > 0, 100 * (FILL(failed, 0) + FILL(timed_out, 0)) / FILL(started, 0), 0)"
    error_message = "failure rate is failed+timed-out over started, in percent"
  }
  assert {
    condition = toset([for q in aws_cloudwatch_metric_alarm.failure_rate.metric_query : "${q.id}=${one(q.metric).metric_name}" if length(q.metric) > 0]) == toset([
      "started=ExecutionsStarted", "failed=ExecutionsFailed", "timed_out=ExecutionsTimedOut",
    ])
    error_message = "failure rate built from the AWS/States execution metrics"
  }
  assert {
    condition     = aws_cloudwatch_metric_alarm.duration.metric_name == "ExecutionTime" && aws_cloudwatch_metric_alarm.duration.threshold == 240000
    error_message = "EXPRESS duration alarm at 240 s, before the 5-minute limit"
  }
  assert {
    condition     = aws_cloudwatch_metric_alarm.dlq.dimensions.QueueName == "ceap-workflow-realtime-dlq" && aws_cloudwatch_metric_alarm.dlq.threshold == 0 && aws_cloudwatch_metric_alarm.dlq.comparison_operator == "GreaterThanThreshold"
    error_message = "DLQ alarm when any message is visible"
  }
  assert {
    condition     = length(aws_cloudwatch_metric_alarm.glue_failed) == 0 && length(aws_cloudwatch_event_rule.glue_failed) == 0
    error_message = "no Glue alarm in EXPRESS"
  }
  assert {
    condition     = aws_sns_topic.alarms.name == "ceap-workflow-realtime-alarms" && aws_sns_topic.alarms.kms_master_key_id == output.kms_key_arn
    error_message = "alarms go to an encrypted topic"
  }
  assert {
    condition = jsondecode(aws_sns_topic_policy.alarms.policy).Statement == [
      {
        Sid       = "AllowWorkflowAlarmsToPublish"
        Effect    = "Allow"
        Principal = { Service = "cloudwatch.amazonaws.com" }
        Action    = "sns:Publish"
        Resource  = "arn:aws:sns:us-east-1:123456789012:ceap-workflow-realtime-alarms"
        Condition = {
          ArnLike      = { "aws:SourceArn" = ["arn:aws:cloudwatch:us-east-1:123456789012:alarm:Ceap-realtime-Workflow-*"] }
          StringEquals = { "aws:SourceAccount" = "123456789012" }
        }
      },
    ]
    error_message = "only this workflow's alarms may publish to its topic (no EventBridge rule in EXPRESS)"
  }
  assert {
    condition     = length(aws_cloudwatch_event_target.glue_failed) == 0 && !contains([for s in module.storage.kms_key_policy.Statement : s.Sid], "AllowEventBridgeToPublishToTheAlarmTopic")
    error_message = "no EventBridge target or key grant in EXPRESS"
  }
  assert {
    condition     = aws_cloudwatch_dashboard.this.dashboard_name == "Ceap-realtime-Workflow"
    error_message = "one dashboard per workflow"
  }
  assert {
    condition     = length(jsondecode(aws_cloudwatch_dashboard.this.dashboard_body).widgets) == 7
    error_message = "six metric widgets and the alarm widget"
  }
  assert {
    condition = jsondecode(aws_cloudwatch_dashboard.this.dashboard_body).widgets[6].properties.alarms == [
      "arn:aws:cloudwatch:us-east-1:123456789012:alarm:Ceap-realtime-Workflow-failure-rate",
      "arn:aws:cloudwatch:us-east-1:123456789012:alarm:Ceap-realtime-Workflow-duration",
      "arn:aws:cloudwatch:us-east-1:123456789012:alarm:Ceap-realtime-Workflow-dlq-not-empty",
    ]
    error_message = "the dashboard shows the workflow's alarms"
  }
}

run "summary" {
  command = plan

  assert {
    condition = toset(keys(output.summary)) == toset([
      "name", "type", "state_machine_arn", "state_machine_name", "bucket", "queue_url", "queue_arn", "dlq_url", "dlq_arn",
      "table_name", "event_bus_name", "function_names", "glue_job_name", "dashboard_name", "alarm_topic_arn",
      "log_groups", "alarm_names", "budget_name", "catalog_database", "catalog_tables",
      "stage_order", "glue_job_names", "custom_stages",
    ])
    error_message = "summary matches the `workflow` output of docs/ARCHITECTURE.md"
  }
  assert {
    condition     = output.summary.log_groups.state_machine == "/aws/vendedlogs/states/Ceap-realtime-Workflow" && output.summary.log_groups.functions.ETL == "/aws/lambda/CeapWorkflow-realtime-ETLLambda" && length(output.summary.log_groups.functions) == 5 && length(output.summary.log_groups.glue) == 0
    error_message = "the summary names the log groups the day-2 commands read"
  }
  assert {
    condition     = output.summary.alarm_names == ["Ceap-realtime-Workflow-failure-rate", "Ceap-realtime-Workflow-duration", "Ceap-realtime-Workflow-dlq-not-empty"]
    error_message = "the summary names every alarm (status reads them)"
  }
  assert {
    condition     = output.summary.glue_job_name == null && output.summary.type == "EXPRESS" && output.summary.name == "realtime"
    error_message = "EXPRESS summary has no Glue job"
  }
  assert {
    condition     = output.summary.bucket == "ceap-workflow-realtime-123456789012" && output.summary.table_name == "ceap-workflow-realtime-candidates"
    error_message = "summary names"
  }
}

run "published_artifacts_are_read_in_place" {
  command = plan

  variables {
    stage_package = {
      code_zip_sha256  = "47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU="
      layer_zip_sha256 = "n4bQgYhMfWWaL+qgxVrQFaO/TxsrC4Is0V1sFbDwCgg="
      runtime          = "python3.12"
      s3_bucket        = "acme-ceap-artifacts"
      code_zip_s3_key  = "ceap/stage-code/e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855.zip"
      layer_zip_s3_key = "ceap/stage-layer/py3.12-manylinux2014_x86_64/9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08.zip"
    }
  }

  assert {
    condition     = length(aws_s3_object.stage_code) == 0 && length(aws_s3_object.stage_layer) == 0
    error_message = "nothing is uploaded in the published form"
  }
  assert {
    condition = alltrue([
      for s, m in module.stage : m.code_s3_location == {
        bucket = "acme-ceap-artifacts"
        key    = "ceap/stage-code/e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855.zip"
      }
    ])
    error_message = "every function is created from the published code object"
  }
  assert {
    condition = (
      aws_lambda_layer_version.deps.s3_bucket == "acme-ceap-artifacts"
      && aws_lambda_layer_version.deps.s3_key == "ceap/stage-layer/py3.12-manylinux2014_x86_64/9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08.zip"
      && aws_lambda_layer_version.deps.source_code_hash == "n4bQgYhMfWWaL+qgxVrQFaO/TxsrC4Is0V1sFbDwCgg="
    )
    error_message = "the layer is created from the published layer object"
  }
  assert {
    condition     = alltrue([for s, m in module.stage : length([for st in m.policy.Statement : st if strcontains(jsonencode(st.Resource), "acme-ceap-artifacts")]) == 0])
    error_message = "execution roles get no access to the artifact bucket (Lambda copies code with the deployer's credentials)"
  }
}
