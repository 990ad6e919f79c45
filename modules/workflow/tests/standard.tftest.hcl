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
  # The inline stages (fanout.tftest.hcl tests the Distributed Map fan-out, the default).
  fanout = { enabled = false }
}

run "glue_between_filter_and_score" {
  command = plan

  assert {
    condition     = aws_sfn_state_machine.this.type == "STANDARD" && aws_sfn_state_machine.this.name == "Ceap-batch-Workflow"
    error_message = "STANDARD state machine"
  }
  assert {
    condition     = output.stage_order == tolist(["ETL", "Filter", "HeavyETL", "Score", "Store", "Reactive"])
    error_message = "HeavyETL sits between Filter and Score"
  }
  assert {
    condition     = output.definition.States.Filter.Next == "HeavyETL" && output.definition.States.HeavyETL.Next == "Score"
    error_message = "Filter -> HeavyETL -> Score"
  }
  assert {
    condition     = output.definition.States.Score.Parameters.Payload.previousStage == "HeavyETL"
    error_message = "Score reads HeavyETL's manifest"
  }
  assert {
    condition     = output.definition.States.HeavyETL.Resource == "arn:aws:states:::glue:startJobRun.sync"
    error_message = "Glue task waits for the job run (.sync)"
  }
  assert {
    condition = output.definition.States.HeavyETL.Parameters == {
      JobName = "ceap-workflow-batch-heavy-etl"
      Arguments = {
        "--execution_id.$"  = "$$.Execution.Name"
        "--workflow_bucket" = "ceap-workflow-batch-123456789012"
        "--previous_stage"  = "Filter"
        "--current_stage"   = "HeavyETL"
      }
    }
    error_message = "job arguments per docs/ARCHITECTURE.md"
  }
  assert {
    condition     = !anytrue([for r in output.definition.States.HeavyETL.Retry : contains(r.ErrorEquals, "States.TaskFailed") || contains(r.ErrorEquals, "States.ALL")])
    error_message = "a failed job run is never retried by name (a deterministic failure fails at once)"
  }
  assert {
    condition     = output.definition.States.HeavyETL.Retry[0].ErrorEquals == ["Glue.ConcurrentRunsExceededException"] && output.definition.States.HeavyETL.Retry[0].MaxAttempts == 12 && output.definition.States.HeavyETL.Retry[0].JitterStrategy == "FULL"
    error_message = "the concurrent-runs limit has a budget that absorbs a burst"
  }
  assert {
    condition     = !can(output.definition.States.HeavyETL.Catch)
    error_message = "a Glue failure fails the execution in HeavyETL, where RedriveExecution resumes"
  }
  assert {
    condition     = output.definition.States.HeavyETL.ResultPath == "$.result" && output.definition.States.HeavyETL.ResultSelector["status.$"] == "$.JobRunState" && output.definition.States.HeavyETL.ResultSelector.stage == "HeavyETL"
    error_message = "only a small Glue result is kept, the request header stays"
  }
  assert {
    condition     = module.glue_job[0].job_name == "ceap-workflow-batch-heavy-etl"
    error_message = "the Glue job exists in STANDARD"
  }
  assert {
    condition     = module.glue_job[0].script_s3_uri == "s3://ceap-glue-scripts-123456789012/batch/heavy_etl.py"
    error_message = "script uploaded to the shared bucket under the workflow name"
  }
}

run "standard_iam_and_pipe" {
  command = plan

  assert {
    condition = { for s in output.sfn_policy.Statement : s.Sid => s }["RunHeavyEtlJob"] == {
      Sid      = "RunHeavyEtlJob"
      Effect   = "Allow"
      Action   = ["glue:StartJobRun", "glue:GetJobRun", "glue:GetJobRuns", "glue:BatchStopJobRun"]
      Resource = "arn:aws:glue:us-east-1:123456789012:job/ceap-workflow-batch-heavy-etl"
    }
    error_message = "the state machine runs exactly its Glue job"
  }
  assert {
    condition     = one(one(aws_pipes_pipe.this.target_parameters).step_function_state_machine_parameters).invocation_type == "FIRE_AND_FORGET"
    error_message = "STANDARD runs asynchronously"
  }
  assert {
    condition     = { for s in output.pipe_policy.Statement : s.Sid => s.Action }["StartWorkflow"] == ["states:StartExecution"]
    error_message = "the pipe may only StartExecution on a STANDARD workflow"
  }
  assert {
    condition     = module.stage["ETL"].timeout == 900 && module.stage["Score"].memory_size == 2048
    error_message = "STANDARD stages get long timeouts and more memory"
  }
  assert {
    condition     = alltrue([for s in ["ETL", "Filter", "Score", "Store", "Reactive"] : output.definition.States[s].Retry[0].ErrorEquals == ["Lambda.TooManyRequestsException"] && output.definition.States[s].Retry[0].MaxAttempts == 20])
    error_message = "STANDARD absorbs a burst the pipe does not bound: 20 throttling retries (waits of at most 481 s)"
  }
  assert {
    condition     = one(one(aws_pipes_pipe.this.source_parameters).sqs_queue_parameters).batch_size == 1 && one(one(aws_pipes_pipe.this.source_parameters).sqs_queue_parameters).maximum_batching_window_in_seconds == 0
    error_message = "one message per execution, no batching window"
  }
}

run "standard_alarms" {
  command = plan

  assert {
    condition     = aws_cloudwatch_metric_alarm.duration.threshold == 14400000
    error_message = "STANDARD duration alarm at 4 h"
  }
  assert {
    condition     = jsondecode(aws_cloudwatch_event_rule.glue_failed[0].event_pattern) == { source = ["aws.glue"], "detail-type" = ["Glue Job State Change"], detail = { jobName = ["ceap-workflow-batch-heavy-etl"], state = ["FAILED", "TIMEOUT", "ERROR"] } }
    error_message = "Glue failures are the job's own FAILED/TIMEOUT/ERROR state changes"
  }
  assert {
    condition     = aws_cloudwatch_event_target.glue_failed[0].rule == "ceap-workflow-batch-heavy-etl-failed" && aws_cloudwatch_event_target.glue_failed[0].arn == "arn:aws:sns:us-east-1:123456789012:ceap-workflow-batch-alarms"
    error_message = "the Glue-failure rule has a target, the alarm topic (a rule without one is not established to publish metrics)"
  }
  assert {
    condition = (
      aws_cloudwatch_metric_alarm.glue_failed[0].namespace == "AWS/Events" && aws_cloudwatch_metric_alarm.glue_failed[0].metric_name == "TriggeredRules"
      && aws_cloudwatch_metric_alarm.glue_failed[0].dimensions == tomap({ RuleName = "ceap-workflow-batch-heavy-etl-failed" })
      && aws_cloudwatch_metric_alarm.glue_failed[0].statistic == "Sum" && aws_cloudwatch_metric_alarm.glue_failed[0].threshold == 0
      && aws_cloudwatch_metric_alarm.glue_failed[0].comparison_operator == "GreaterThanThreshold"
    )
    error_message = "alarm on any Glue failure the rule matched: AWS/Events TriggeredRules of the rule, which EventBridge publishes for a rule with a target"
  }
  assert {
    condition = jsondecode(aws_sns_topic_policy.alarms.policy).Statement[1] == {
      Sid       = "AllowGlueFailureRuleToPublish"
      Effect    = "Allow"
      Principal = { Service = "events.amazonaws.com" }
      Action    = "sns:Publish"
      Resource  = "arn:aws:sns:us-east-1:123456789012:ceap-workflow-batch-alarms"
      Condition = {
        ArnEquals    = { "aws:SourceArn" = "arn:aws:events:us-east-1:123456789012:rule/ceap-workflow-batch-heavy-etl-failed" }
        StringEquals = { "aws:SourceAccount" = "123456789012" }
      }
    }
    error_message = "the topic accepts EventBridge's publish from exactly the Glue-failure rule"
  }
  assert {
    condition     = jsonencode(one([for s in module.storage.kms_key_policy.Statement : s.Condition.StringEquals["kms:EncryptionContext:aws:sns:topicArn"] if s.Sid == "AllowEventBridgeToPublishToTheAlarmTopic"])) == jsonencode(["arn:aws:sns:us-east-1:123456789012:ceap-workflow-batch-alarms"])
    error_message = "the key serves EventBridge for the encrypted alarm topic only"
  }
  assert {
    condition     = jsondecode(aws_cloudwatch_dashboard.this.dashboard_body).widgets[6].properties.metrics[0][1] == "TriggeredRules"
    error_message = "the dashboard shows the alarm's metric"
  }
  assert {
    condition     = output.summary.glue_job_name == "ceap-workflow-batch-heavy-etl"
    error_message = "summary names the Glue job"
  }
  assert {
    condition     = toset(output.summary.log_groups.glue) == toset(["/aws-glue/jobs/ceap-workflow-batch-heavy-etl/error", "/aws-glue/jobs/ceap-workflow-batch-heavy-etl/output"])
    error_message = "a STANDARD summary names the Glue log groups"
  }
  assert {
    condition     = contains(output.summary.alarm_names, "Ceap-batch-Workflow-glue-job-failed")
    error_message = "a STANDARD summary names the Glue failure alarm"
  }
}

run "execution_timeout" {
  command = plan

  variables {
    standard_execution_timeout_seconds = 28800
  }

  assert {
    condition     = output.definition.TimeoutSeconds == 28800
    error_message = "optional STANDARD execution timeout"
  }
}

run "second_workflow_names" {
  command = plan

  variables {
    name = "analytics"
  }

  assert {
    condition     = output.summary.state_machine_name == "Ceap-analytics-Workflow" && output.summary.bucket == "ceap-workflow-analytics-123456789012"
    error_message = "names follow the workflow name"
  }
  assert {
    condition     = output.summary.glue_job_name == "ceap-workflow-analytics-heavy-etl" && output.summary.table_name == "ceap-workflow-analytics-candidates"
    error_message = "job and table names follow the workflow name"
  }
  assert {
    condition     = output.function_names.Reactive == "CeapWorkflow-analytics-ReactiveLambda" && output.summary.dashboard_name == "Ceap-analytics-Workflow"
    error_message = "function and dashboard names follow the workflow name"
  }
  assert {
    condition     = aws_pipes_pipe.this.name == "ceap-workflow-analytics-pipe" && aws_sns_topic.alarms.name == "ceap-workflow-analytics-alarms"
    error_message = "pipe and topic names follow the workflow name"
  }
}

run "published_script_and_code_are_read_in_place" {
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
    glue_script = {
      s3_bucket = "acme-ceap-artifacts"
      s3_key    = "ceap/glue/heavy_etl/e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855.py"
      sha256    = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
    }
  }

  assert {
    condition     = module.glue_job[0].script_s3_uri == "s3://acme-ceap-artifacts/ceap/glue/heavy_etl/e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855.py"
    error_message = "the job runs the published script"
  }
  assert {
    condition     = module.glue_job[0].code_s3_uri == "s3://acme-ceap-artifacts/ceap/stage-code/e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855.zip"
    error_message = "the job imports the same published code zip the functions run"
  }
  assert {
    condition = { for s in module.glue_job[0].policy.Statement : s.Sid => s.Resource }["ReadJobCode"] == [
      "arn:aws:s3:::acme-ceap-artifacts/ceap/glue/heavy_etl/e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855.py",
      "arn:aws:s3:::acme-ceap-artifacts/ceap/stage-code/e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855.zip",
    ]
    error_message = "the job role reads exactly the published objects"
  }
}

run "short_visibility_is_fine_for_standard" {
  command = plan

  variables {
    queue_visibility_timeout_seconds = 60
  }

  assert {
    condition     = module.storage.queue_visibility_timeout_seconds == 60
    error_message = "STANDARD deletes the message once its run starts: any visibility timeout works"
  }
}
