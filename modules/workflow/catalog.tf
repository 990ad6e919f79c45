# Glue Data Catalog tables over the workflow's data, so Athena can query it with no
# crawler: partition projection computes the partitions from the S3 layout
# (https://docs.aws.amazon.com/athena/latest/ug/partition-projection.html).
#
# - candidates: every candidate-writing stage's JSON Lines parts,
#   s3://{bucket}/executions/{execution_id}/{stage}/ (execution_id injected: a query
#   names the execution, `WHERE execution_id = '...' AND stage = 'Store'`).
# - customer_history (STANDARD): the HeavyETL history dataset, {history_uri}dt=YYYY-MM-DD/.
#
# The columns come from the stage contract (lambda_src/ceap_stages/schemas.py, rendered
# into catalog_schema.tf as local.catalog_schema; a test keeps the two equal). A stage
# prefix also holds its manifest output.json and rejected/ parts; select the data parts
# with `regexp_like("$path", '/part-[0-9]+\.jsonl(\.gz)?$')` and
# `"$path" NOT LIKE '%/rejected/%'` (modules/workflow/README.md, Glue Data Catalog).

locals {
  catalog_database       = "ceap_workflow_${var.name}"
  history_location       = coalesce(var.history_uri, "s3://${module.storage.bucket_name}/history/")
  history_location_slash = endswith(local.history_location, "/") ? local.history_location : "${local.history_location}/"
  catalog_candidate_stages = [
    for s in local.catalog_schema.candidates.stages : s if contains(local.stage_order, s)
  ]

  # JSON Lines read by the OpenX JSON SerDe (Athena's; gzip parts by their .gz suffix).
  catalog_json_storage = {
    input_format          = "org.apache.hadoop.mapred.TextInputFormat"
    output_format         = "org.apache.hadoop.hive.ql.io.HiveIgnoreKeyTextOutputFormat"
    serialization_library = "org.openx.data.jsonserde.JsonSerDe"
  }
}

resource "aws_glue_catalog_database" "this" {
  count = var.create_catalog ? 1 : 0

  name        = local.catalog_database
  description = "CEAP workflow ${var.name}: candidates and customer history (schemas from the stage contract)"
}

resource "aws_glue_catalog_table" "candidates" {
  count = var.create_catalog ? 1 : 0

  name          = "candidates"
  database_name = aws_glue_catalog_database.this[0].name
  description   = "Candidates written by the stages of ${var.name}, one partition per execution and stage"
  table_type    = "EXTERNAL_TABLE"

  parameters = {
    EXTERNAL                       = "TRUE"
    classification                 = "json"
    "projection.enabled"           = "true"
    "projection.execution_id.type" = "injected"
    "projection.stage.type"        = "enum"
    "projection.stage.values"      = join(",", local.catalog_candidate_stages)
    "storage.location.template"    = "s3://${module.storage.bucket_name}/executions/$${execution_id}/$${stage}/"
  }

  dynamic "partition_keys" {
    for_each = local.catalog_schema.candidates.partitions
    content {
      name    = partition_keys.value.name
      type    = partition_keys.value.type
      comment = partition_keys.value.comment
    }
  }

  storage_descriptor {
    location      = "s3://${module.storage.bucket_name}/executions/"
    input_format  = local.catalog_json_storage.input_format
    output_format = local.catalog_json_storage.output_format

    ser_de_info {
      serialization_library = local.catalog_json_storage.serialization_library
    }

    dynamic "columns" {
      for_each = local.catalog_schema.candidates.columns
      content {
        name    = columns.value.name
        type    = columns.value.type
        comment = columns.value.comment
      }
    }
  }
}

resource "aws_glue_catalog_table" "customer_history" {
  count = var.create_catalog && local.is_standard ? 1 : 0

  name          = "customer_history"
  database_name = aws_glue_catalog_database.this[0].name
  description   = "Customer history read by ${local.glue_job_name}, one partition per day"
  table_type    = "EXTERNAL_TABLE"

  parameters = {
    EXTERNAL                    = "TRUE"
    classification              = "json"
    "projection.enabled"        = "true"
    "projection.dt.type"        = "date"
    "projection.dt.format"      = "yyyy-MM-dd"
    "projection.dt.range"       = "2000-01-01,NOW"
    "projection.dt.interval"    = "1"
    "projection.dt.unit"        = "DAYS"
    "storage.location.template" = "${local.history_location_slash}dt=$${dt}/"
  }

  dynamic "partition_keys" {
    for_each = local.catalog_schema.customer_history.partitions
    content {
      name    = partition_keys.value.name
      type    = partition_keys.value.type
      comment = partition_keys.value.comment
    }
  }

  storage_descriptor {
    location      = local.history_location_slash
    input_format  = local.catalog_json_storage.input_format
    output_format = local.catalog_json_storage.output_format

    ser_de_info {
      serialization_library = local.catalog_json_storage.serialization_library
    }

    dynamic "columns" {
      for_each = local.catalog_schema.customer_history.columns
      content {
        name    = columns.value.name
        type    = columns.value.type
        comment = columns.value.comment
      }
    }
  }
}
