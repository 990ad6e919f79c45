variable "name" {
  description = "Workflow name: lowercase letters and digits, 2-21 characters (it enters bucket names)."
  type        = string

  validation {
    condition     = can(regex("^[a-z][a-z0-9]{1,20}$", var.name))
    error_message = "name must match ^[a-z][a-z0-9]{1,20}$ (lowercase letters and digits, starting with a letter)."
  }
}

variable "type" {
  description = "EXPRESS (synchronous, under 5 minutes, Lambda stages only) or STANDARD (asynchronous, with the HeavyETL Glue job between Filter and Score)."
  type        = string

  validation {
    condition     = contains(["EXPRESS", "STANDARD"], var.type)
    error_message = "type must be EXPRESS or STANDARD."
  }
}

variable "stage_package" {
  description = "Stage artifacts in one of two forms. Local files (`ceap-tf package`): code_zip_path and layer_zip_path, uploaded by this module to the workflow bucket. Published objects (`ceap-tf publish`): s3_bucket, code_zip_s3_key and layer_zip_s3_key, which Lambda (and Glue) read in place, nothing re-uploaded. Both forms carry the zips' base64 SHA-256 hashes and the Lambda runtime."
  type = object({
    code_zip_sha256  = string
    layer_zip_sha256 = string
    runtime          = string
    code_zip_path    = optional(string)
    layer_zip_path   = optional(string)
    s3_bucket        = optional(string)
    code_zip_s3_key  = optional(string)
    layer_zip_s3_key = optional(string)
  })

  validation {
    condition = alltrue([
      for h in [var.stage_package.code_zip_sha256, var.stage_package.layer_zip_sha256] : can(regex("^[A-Za-z0-9+/]{43}=$", h))
    ])
    error_message = "stage_package hashes must be base64-encoded SHA-256 values (44 characters ending in '=')."
  }

  validation {
    condition     = can(regex("^python3\\.1[0-9]$", var.stage_package.runtime))
    error_message = "stage_package.runtime must be a Lambda Python 3 runtime such as python3.12."
  }

  validation {
    condition = (
      (var.stage_package.code_zip_path != null && var.stage_package.layer_zip_path != null
      && var.stage_package.s3_bucket == null && var.stage_package.code_zip_s3_key == null && var.stage_package.layer_zip_s3_key == null)
      || (var.stage_package.code_zip_path == null && var.stage_package.layer_zip_path == null
      && var.stage_package.s3_bucket != null && var.stage_package.code_zip_s3_key != null && var.stage_package.layer_zip_s3_key != null)
    )
    error_message = "stage_package takes one form: local files (code_zip_path, layer_zip_path) or published objects (s3_bucket, code_zip_s3_key, layer_zip_s3_key), complete and not mixed."
  }

  validation {
    condition = var.stage_package.s3_bucket == null || (
      can(regex("^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$", coalesce(var.stage_package.s3_bucket, "xxx")))
      && endswith(coalesce(var.stage_package.code_zip_s3_key, ".zip"), ".zip")
      && endswith(coalesce(var.stage_package.layer_zip_s3_key, ".zip"), ".zip")
    )
    error_message = "In the published form, s3_bucket must be a bucket name and both keys must name .zip objects."
  }
}

variable "glue_script" {
  description = "STANDARD only: the HeavyETL PySpark script, as a local file (path, uploaded to the shared script bucket) or a published object (s3_bucket, s3_key, read in place), with its hex SHA-256."
  type = object({
    sha256    = string
    path      = optional(string)
    s3_bucket = optional(string)
    s3_key    = optional(string)
  })
  default = null

  validation {
    condition     = var.type != "STANDARD" || var.glue_script != null
    error_message = "A STANDARD workflow needs glue_script (path and sha256 of glue/heavy_etl.py)."
  }

  validation {
    condition = var.glue_script == null || try(
      (var.glue_script.path != null && var.glue_script.s3_bucket == null && var.glue_script.s3_key == null)
      || (var.glue_script.path == null && var.glue_script.s3_bucket != null && var.glue_script.s3_key != null),
      false,
    )
    error_message = "glue_script takes one form: a local file (path) or a published object (s3_bucket and s3_key), not both."
  }

  validation {
    condition     = var.glue_script == null || can(regex("^[0-9a-f]{64}$", try(var.glue_script.sha256, "")))
    error_message = "glue_script.sha256 must be 64 lowercase hex characters."
  }
}

variable "glue_scripts_bucket_name" {
  description = "Shared Glue script bucket; null means ceap-glue-scripts-{account_id} from envs/shared."
  type        = string
  default     = null
}

variable "history_uri" {
  description = "STANDARD only: customer-history dataset for HeavyETL; null means s3://{workflow bucket}/history/."
  type        = string
  default     = null
}

variable "glue_job" {
  description = "STANDARD only: HeavyETL job sizing and extra default arguments."
  type = object({
    worker_type         = optional(string, "G.1X")
    number_of_workers   = optional(number, 2)
    timeout_minutes     = optional(number, 120)
    max_concurrent_runs = optional(number, 3)
    arguments           = optional(map(string), {})
  })
  default = {}
}

variable "stage_overrides" {
  description = "Per-stage tuning, keyed by stage id (ETL, Filter, Score, Store, Reactive): memory_size, timeout, reserved_concurrency, environment (e.g. {CEAP_FILTER_MIN_ORDER_VALUE = \"10\"})."
  type = map(object({
    memory_size          = optional(number)
    timeout              = optional(number)
    reserved_concurrency = optional(number)
    environment          = optional(map(string), {})
  }))
  default = {}

  validation {
    condition     = alltrue([for k in keys(var.stage_overrides) : contains(["ETL", "Filter", "Score", "Store", "Reactive"], k)])
    error_message = "stage_overrides keys must be Lambda stage ids: ETL, Filter, Score, Store, Reactive."
  }
}

variable "reserved_concurrency" {
  description = "Reserved concurrency of each stage function; null (the default) reserves none (stage_overrides may still set it per stage). Lambda keeps at least 100 of the account's concurrency unreserved and refuses any reservation below that, so a default reservation would fail the apply on a new account (quota 10 or 50) and cap an account at the default 1000 at 18 workflows of five stages at 10."
  type        = number
  default     = null

  validation {
    condition     = var.reserved_concurrency == null || coalesce(var.reserved_concurrency, 1) >= 1
    error_message = "reserved_concurrency must be null (none reserved) or at least 1."
  }
}

variable "extra_source_bucket_arns" {
  description = "Further S3 buckets the ETL stage may read `source` files from (read-only)."
  type        = list(string)
  default     = []
}

variable "log_retention_days" {
  description = "Retention of every log group of the workflow (state machine, functions, Glue job)."
  type        = number
  default     = 14

  validation {
    condition     = contains([1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653], var.log_retention_days)
    error_message = "log_retention_days must be a value CloudWatch Logs accepts (1, 3, 5, 7, 14, 30, 60, 90, ... 3653)."
  }
}

variable "executions_expiration_days" {
  description = "Days after which per-run stage data under executions/ expires."
  type        = number
  default     = 7
}

variable "queue_visibility_timeout_seconds" {
  description = "Workflow queue visibility timeout. For EXPRESS it must exceed 300 s: the pipe holds a message for the whole synchronous run (at most 5 minutes, throttling retries included), and a message that became visible again mid-run would start a duplicate execution. STANDARD deletes the message once the execution has started."
  type        = number
  default     = 360

  validation {
    condition     = var.type != "EXPRESS" || var.queue_visibility_timeout_seconds > 300
    error_message = "queue_visibility_timeout_seconds must exceed 300 for an EXPRESS workflow (the longest synchronous run the pipe waits for), or messages reappear while their execution still runs."
  }
}

variable "standard_execution_timeout_seconds" {
  description = "STANDARD only: TimeoutSeconds of the whole execution; null leaves the Step Functions limit (one year)."
  type        = number
  default     = null

  validation {
    condition     = var.standard_execution_timeout_seconds == null || coalesce(var.standard_execution_timeout_seconds, 1) >= 1
    error_message = "standard_execution_timeout_seconds must be a positive number of seconds."
  }
}

variable "failure_rate_alarm_threshold_percent" {
  description = "Alarm when more than this percentage of executions started in a period fail or time out."
  type        = number
  default     = 5

  validation {
    condition     = var.failure_rate_alarm_threshold_percent > 0 && var.failure_rate_alarm_threshold_percent <= 100
    error_message = "failure_rate_alarm_threshold_percent must be in (0, 100]."
  }
}

variable "duration_alarm_threshold_seconds" {
  description = "Alarm when an execution takes longer; null means 240 s for EXPRESS (warn before the 5-minute limit) and 14400 s (4 h) for STANDARD."
  type        = number
  default     = null
}

variable "alarm_period_seconds" {
  description = "Evaluation period of the alarms."
  type        = number
  default     = 300

  validation {
    condition     = contains([60, 300, 900, 3600], var.alarm_period_seconds)
    error_message = "alarm_period_seconds must be 60, 300, 900 or 3600."
  }
}

variable "force_destroy" {
  description = "Let terraform destroy delete the workflow bucket with its objects."
  type        = bool
  default     = false
}

variable "table_deletion_protection" {
  description = "Turn on DynamoDB deletion protection for the candidate table."
  type        = bool
  default     = false
}

variable "include_execution_data" {
  description = "Log execution input, output and state data in the state machine's log group. Default false: the log keeps every event (level ALL, so EXPRESS executions stay listable) but no customer data; the input is kept once in executions/{id}/input.json instead. True helps debugging at the cost of order data in the logs and more log ingestion."
  type        = bool
  default     = false
}

variable "throttle_retry_max_attempts" {
  description = "Retries of a stage throttled by Lambda (Lambda.TooManyRequestsException): exponential from 1 s, capped at 30 s, full jitter. null takes the type's default: 8 for EXPRESS (waits of at most 121 s, about 60 s on average, inside the 5-minute execution) and 20 for STANDARD (at most 481 s, about 240 s on average: nothing bounds how many STANDARD executions the pipe starts, see README, Pipe)."
  type        = number
  default     = null

  validation {
    condition     = var.throttle_retry_max_attempts == null || (coalesce(var.throttle_retry_max_attempts, 0) >= 0 && coalesce(var.throttle_retry_max_attempts, 0) <= 20)
    error_message = "throttle_retry_max_attempts must be null (the type's default) or between 0 and 20."
  }
}

# ---------------------------------------------------------------- alert routing (alerting.tf)

variable "dlq_alarm_threshold_messages" {
  description = "Alarm when the dead-letter queue holds more than this many visible messages (the seed's DLQ > 0)."
  type        = number
  default     = 0

  validation {
    condition     = var.dlq_alarm_threshold_messages >= 0 && floor(var.dlq_alarm_threshold_messages) == var.dlq_alarm_threshold_messages
    error_message = "dlq_alarm_threshold_messages must be a whole number >= 0."
  }
}

variable "glue_failure_alarm_threshold_runs" {
  description = "STANDARD only: alarm when more than this many HeavyETL job runs end FAILED, TIMEOUT or ERROR in one alarm period (the seed's Glue job failures: > 0)."
  type        = number
  default     = 0

  validation {
    condition     = var.glue_failure_alarm_threshold_runs >= 0 && floor(var.glue_failure_alarm_threshold_runs) == var.glue_failure_alarm_threshold_runs
    error_message = "glue_failure_alarm_threshold_runs must be a whole number >= 0."
  }
}

variable "alarm_email_addresses" {
  description = "Email addresses subscribed to the alarm topic. Each receives a confirmation email from SNS and gets alarms only after following its link; until then `ceap-tf status` shows the subscription as pending."
  type        = list(string)
  default     = []

  validation {
    condition     = alltrue([for a in var.alarm_email_addresses : can(regex("^[^@\\s]+@[^@\\s]+\\.[^@\\s]+$", a))])
    error_message = "alarm_email_addresses must be email addresses (name@domain.tld)."
  }
}

variable "alarm_https_endpoints" {
  description = "HTTPS endpoints subscribed to the alarm topic, keyed by a name of your choice, e.g. {pagerduty = {url = \"https://events.pagerduty.com/integration/<key>/enqueue\", auto_confirms = true}, chat = {url = \"https://hooks.example.com/...\"}}. SNS first POSTs a SubscriptionConfirmation whose SubscribeURL the endpoint must visit; auto_confirms = true (endpoints that do it by themselves, such as PagerDuty's) makes terraform wait for that confirmation; raw_message_delivery posts the bare message instead of the SNS envelope. Sensitive: integration URLs carry keys."
  type = map(object({
    url                  = string
    auto_confirms        = optional(bool, false)
    raw_message_delivery = optional(bool, false)
  }))
  default   = {}
  sensitive = true

  validation {
    condition     = alltrue([for k, e in var.alarm_https_endpoints : can(regex("^[A-Za-z0-9_-]{1,64}$", k)) && startswith(e.url, "https://")])
    error_message = "alarm_https_endpoints keys must be names of letters, digits, '_' or '-', and every url must start with https:// (SNS delivers alarms over TLS only)."
  }
}

# ---------------------------------------------------------------- cost budget (budget.tf)

variable "create_budget" {
  description = "Create an AWS Budgets cost budget for the workflow (when a limit is known: budget_monthly_limit_usd, or budget_cost_estimate_usd times budget_margin)."
  type        = bool
  default     = true
}

variable "budget_monthly_limit_usd" {
  description = "Monthly cost budget of the workflow in USD; null derives it from budget_cost_estimate_usd x budget_margin."
  type        = number
  default     = null

  validation {
    condition     = var.budget_monthly_limit_usd == null || coalesce(var.budget_monthly_limit_usd, 1) > 0
    error_message = "budget_monthly_limit_usd must be null or a positive amount."
  }
}

variable "budget_cost_estimate_usd" {
  description = "The workflow's monthly estimate from `ceap-tf cost NAME` (the wrapper passes it as the env variable cost_estimate_usd); the default budget limit is this times budget_margin, rounded up to whole dollars."
  type        = number
  default     = null

  validation {
    condition     = var.budget_cost_estimate_usd == null || coalesce(var.budget_cost_estimate_usd, 0) >= 0
    error_message = "budget_cost_estimate_usd must be null or >= 0."
  }
}

variable "budget_margin" {
  description = "Factor over the cost estimate that makes the default budget limit (1.5: alert at 50 % over the estimate)."
  type        = number
  default     = 1.5

  validation {
    condition     = var.budget_margin >= 1
    error_message = "budget_margin must be at least 1."
  }
}

variable "budget_minimum_usd" {
  description = "Lowest default budget limit in USD, so a tiny estimate does not alert on cents."
  type        = number
  default     = 10

  validation {
    condition     = var.budget_minimum_usd > 0
    error_message = "budget_minimum_usd must be positive."
  }
}

variable "budget_cost_allocation_tag" {
  description = "Cost-allocation tag key whose value is the workflow name on every resource (the env's provider default_tags); the budget counts costs with that tag. AWS counts a tag only after it is activated in the Billing console (README, Cost budget)."
  type        = string
  default     = "Workflow"

  validation {
    condition     = can(regex("^[A-Za-z0-9 _.:/=+@-]{1,128}$", var.budget_cost_allocation_tag)) && !startswith(var.budget_cost_allocation_tag, "aws:")
    error_message = "budget_cost_allocation_tag must be a user tag key (1-128 characters, not starting with aws:)."
  }
}

variable "budget_actual_threshold_percent" {
  description = "Notify the alarm topic when actual spend this month exceeds this percentage of the budget."
  type        = number
  default     = 80

  validation {
    condition     = var.budget_actual_threshold_percent > 0 && var.budget_actual_threshold_percent <= 1000
    error_message = "budget_actual_threshold_percent must be in (0, 1000]."
  }
}

variable "budget_forecast_threshold_percent" {
  description = "Notify the alarm topic when the month's forecast spend exceeds this percentage of the budget."
  type        = number
  default     = 100

  validation {
    condition     = var.budget_forecast_threshold_percent > 0 && var.budget_forecast_threshold_percent <= 1000
    error_message = "budget_forecast_threshold_percent must be in (0, 1000]."
  }
}

# ---------------------------------------------------------------- Glue Data Catalog (catalog.tf)

variable "create_catalog" {
  description = "Create a Glue Data Catalog database with tables for the workflow's candidates and (STANDARD) the customer-history dataset, schemas from the stage contract, partition projection (no crawler), for Athena."
  type        = bool
  default     = true
}
variable "quality_rules" {
  description = "Data-quality gates, checked by the stage that produces the data and recorded in its manifest (quality). check: max_rejected_share (rejected / records in <= threshold), min_records (records out >= threshold, default 1, when the stage had input), required_fields (share of output records lacking any of fields <= threshold, default 0), value_range (share of values at fields outside [min, max] <= threshold, default 0; e.g. scores.*.value), max_unenriched_share (share of records without attributes.enrichment <= threshold; Score of a STANDARD workflow). action fail stops the execution with the non-retryable DataQualityError naming the rule and the measured value; warn records the result and emits the EMF metric DataQualityWarnings (dimension rule). Rules run in Lambda stages (ETL, Filter, Score, Store, Reactive, and custom lambda stages)."
  type = list(object({
    name      = string
    stage     = string
    check     = string
    action    = optional(string, "fail")
    threshold = optional(number)
    fields    = optional(list(string), [])
    min       = optional(number)
    max       = optional(number)
  }))
  default = []

  validation {
    condition     = alltrue([for r in var.quality_rules : can(regex("^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$", r.name))]) && length(distinct([for r in var.quality_rules : r.name])) == length(var.quality_rules)
    error_message = "quality_rules names must be unique, 1-64 letters, digits, '_', '.', '-'."
  }
  validation {
    condition     = alltrue([for r in var.quality_rules : contains(concat(["ETL", "Filter", "Score", "Store", "Reactive"], [for c in var.custom_stages : c.id if c.kind == "lambda"]), r.stage)])
    error_message = "quality_rules stage must be a Lambda stage id: ETL, Filter, Score, Store, Reactive, or a custom lambda stage's id."
  }
  validation {
    condition     = alltrue([for r in var.quality_rules : contains(["max_rejected_share", "min_records", "required_fields", "value_range", "max_unenriched_share"], r.check)])
    error_message = "quality_rules check must be max_rejected_share, min_records, required_fields, value_range or max_unenriched_share."
  }
  validation {
    condition     = alltrue([for r in var.quality_rules : contains(["fail", "warn"], r.action)])
    error_message = "quality_rules action must be fail or warn."
  }
  validation {
    condition = alltrue([for r in var.quality_rules : (
      (!contains(["required_fields", "value_range"], r.check) || length(r.fields) > 0) &&
      (r.check != "value_range" || r.min != null || r.max != null) &&
      (r.check != "max_unenriched_share" || r.threshold != null) &&
      (r.threshold == null || r.check == "min_records" || (coalesce(r.threshold, 0) >= 0 && coalesce(r.threshold, 0) <= 1))
    )])
    error_message = "quality_rules: required_fields and value_range need fields, value_range needs min or max, max_unenriched_share needs threshold, and share thresholds lie in [0, 1]."
  }
}

variable "custom_stages" {
  description = "Extra stages, each inserted right after the built-in stage named in after (several after the same stage run in list order). id: Custom + up to 12 letters/digits (e.g. CustomRegionTag; it names the state, the S3 prefix executions/{id}/{stage}/ and the function or job). kind lambda: handler is module.function in the stage code zip (a module under lambda_src/ceap_stages/ whose Stage subclass has stage_id = id, handler = make_handler(...)); function CeapWorkflow-{name}-{id}Lambda, memory_size/timeout/environment as for a built-in stage (default 512 MB, 30 s). kind glue (STANDARD only: EXPRESS cannot wait for a job run): module is a module in the stage code zip with main(argv) (see ceap_stages.gluestage); job ceap-workflow-{name}-{lower(id)}, worker_type/number_of_workers/timeout_minutes. State machine, IAM, alarms, dashboard, smoke checks and the cost estimate include them."
  type = list(object({
    id                = string
    after             = string
    kind              = string
    handler           = optional(string)
    module            = optional(string)
    memory_size       = optional(number)
    timeout           = optional(number)
    environment       = optional(map(string), {})
    worker_type       = optional(string, "G.1X")
    number_of_workers = optional(number, 2)
    timeout_minutes   = optional(number, 60)
  }))
  default = []

  validation {
    condition     = alltrue([for c in var.custom_stages : can(regex("^Custom[A-Z][A-Za-z0-9]{0,11}$", c.id))]) && length(distinct([for c in var.custom_stages : c.id])) == length(var.custom_stages)
    error_message = "custom_stages ids must be unique, Custom + up to 12 letters/digits starting upper case (e.g. CustomRegionTag)."
  }
  validation {
    condition     = alltrue([for c in var.custom_stages : contains(["ETL", "Filter", "HeavyETL", "Score", "Store", "Reactive"], c.after) && (c.after != "HeavyETL" || var.type == "STANDARD")])
    error_message = "custom_stages after must name a built-in stage of the workflow: ETL, Filter, Score, Store, Reactive (HeavyETL in STANDARD)."
  }
  validation {
    condition     = alltrue([for c in var.custom_stages : contains(["lambda", "glue"], c.kind)])
    error_message = "custom_stages kind must be lambda or glue."
  }
  validation {
    condition     = alltrue([for c in var.custom_stages : c.kind != "lambda" || can(regex("^[A-Za-z_][A-Za-z0-9_]*(\\.[A-Za-z_][A-Za-z0-9_]*)+$", c.handler))])
    error_message = "a lambda custom stage needs handler, a dotted module.function path in the stage code zip."
  }
  validation {
    condition     = alltrue([for c in var.custom_stages : c.kind != "glue" || (var.type == "STANDARD" && can(regex("^[A-Za-z_][A-Za-z0-9_]*(\\.[A-Za-z_][A-Za-z0-9_]*)+$", c.module)))])
    error_message = "a glue custom stage needs a STANDARD workflow (EXPRESS cannot wait for a job run) and module, a dotted module path in the stage code zip."
  }
}

variable "fanout" {
  description = "STANDARD only: after HeavyETL, the stages that follow it in stage_order (Score -> Store -> Reactive and custom Lambda stages among them) run once per part of HeavyETL's output in a Step Functions Distributed Map, and one Collect step per stage writes its manifest (fanout.tf). enabled: null (default) fans out whenever it can (STANDARD, no custom Glue stage after HeavyETL), true requires it (a validation error where it cannot), false keeps the inline stages. max_concurrency: child executions at once, 1-1000, default 10. records_per_part: HeavyETL's --records_per_part, about this many records per part, default 50000. EXPRESS workflows always run their stages inline (Distributed Map is STANDARD-only)."
  type = object({
    enabled          = optional(bool)
    max_concurrency  = optional(number, 10)
    records_per_part = optional(number, 50000)
  })
  default = {}

  validation {
    condition     = var.fanout.max_concurrency >= 1 && var.fanout.max_concurrency <= 1000 && floor(var.fanout.max_concurrency) == var.fanout.max_concurrency
    error_message = "fanout.max_concurrency must be a whole number from 1 to 1000."
  }

  validation {
    condition     = var.fanout.records_per_part >= 1000 && floor(var.fanout.records_per_part) == var.fanout.records_per_part
    error_message = "fanout.records_per_part must be a whole number of at least 1000 (smaller parts cost more in child executions than they save)."
  }

  validation {
    condition     = var.fanout.enabled != true || var.type == "STANDARD"
    error_message = "fanout.enabled = true needs a STANDARD workflow: Distributed Map is STANDARD-only (EXPRESS runs its stages inline)."
  }

  validation {
    condition     = var.fanout.enabled != true || alltrue([for c in var.custom_stages : c.kind != "glue" || !contains(["HeavyETL", "Score", "Store", "Reactive"], c.after)])
    error_message = "fanout.enabled = true cannot fan out a custom Glue stage after HeavyETL (a Glue job runs once per execution, not once per part): move it before HeavyETL or set fanout.enabled = false (or leave it null: such a workflow then runs its stages inline)."
  }
}

variable "stage_concurrency" {
  description = "Batches in flight at once inside one Store / Reactive invocation (CEAP_STORE_CONCURRENCY, CEAP_REACTIVE_CONCURRENCY; 1-64, default 8). The stages back off on throttling by themselves (AIMD), so this is a ceiling."
  type = object({
    store    = optional(number, 8)
    reactive = optional(number, 8)
  })
  default = {}

  validation {
    condition     = alltrue([for v in [var.stage_concurrency.store, var.stage_concurrency.reactive] : v >= 1 && v <= 64 && floor(v) == v])
    error_message = "stage_concurrency.store and .reactive must be whole numbers from 1 to 64."
  }
}
