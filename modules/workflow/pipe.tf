# SQS -> Step Functions. Each message starts one execution whose input is the
# message body. EXPRESS runs synchronously (REQUEST_RESPONSE): a failed run leaves
# the message on the queue, and after 3 receives it moves to the DLQ. STANDARD runs
# asynchronously (FIRE_AND_FORGET): the message is consumed once the run starts.
#
# Concurrency: a pipe has no concurrency setting; an SQS source takes only a batch size
# and a batching window (PipeSourceSqsQueueParameters; Lambda's SQS event source
# mapping has MaximumConcurrency, pipes do not). What bounds the load on the stages:
# batch size 1 (one message, one execution; the stage contract needs it), and for
# EXPRESS the synchronous invocation: a poller holds its message until the run ends, so
# in-flight runs = in-flight pipe invocations, each using at most one Lambda
# concurrency at a time. STANDARD starts runs as fast as messages arrive. Throttled
# stages wait in the state machine's retry budget (states.tf); the README gives the
# numbers. No batching window: with batch size 1 it would only add latency.

resource "aws_pipes_pipe" "this" {
  name        = local.pipe_name
  description = "Starts ${local.state_machine_name} from ${module.storage.queue_name}"
  role_arn    = aws_iam_role.pipe.arn
  source      = module.storage.queue_arn
  target      = aws_sfn_state_machine.this.arn

  source_parameters {
    sqs_queue_parameters {
      batch_size                         = 1
      maximum_batching_window_in_seconds = 0
    }
  }

  target_parameters {
    input_template = "<$.body>"

    step_function_state_machine_parameters {
      invocation_type = local.is_standard ? "FIRE_AND_FORGET" : "REQUEST_RESPONSE"
    }
  }

  depends_on = [aws_iam_role_policy.pipe]
}
