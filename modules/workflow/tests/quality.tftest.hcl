# Data-quality gates and lineage: each stage function gets only its own rules and the
# code zip's hash; the HeavyETL job gets the code and script hashes.

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
  quality_rules = [
    { name = "etl-rejects", stage = "ETL", check = "max_rejected_share", threshold = 0.05 },
    { name = "score-unit", stage = "Score", check = "value_range", fields = ["scores.*.value"], min = 0, max = 1 },
    { name = "enriched", stage = "Score", check = "max_unenriched_share", threshold = 0.2, action = "warn" },
  ]
}

run "rules_reach_their_stage_only" {
  command = plan

  assert {
    condition = jsondecode(local.quality_environment["Score"].CEAP_QUALITY_RULES) == [
      { name = "score-unit", check = "value_range", action = "fail", fields = ["scores.*.value"], min = 0, max = 1 },
      { name = "enriched", check = "max_unenriched_share", action = "warn", threshold = 0.2, fields = [] },
    ]
    error_message = "Score gets its two rules, without the stage key and without nulls"
  }
  assert {
    condition     = jsondecode(local.quality_environment["ETL"].CEAP_QUALITY_RULES)[0].threshold == 0.05
    error_message = "ETL gets its rule"
  }
  assert {
    condition     = alltrue([for s in ["Filter", "Store", "Reactive"] : length(local.quality_environment[s]) == 0])
    error_message = "stages without rules get no CEAP_QUALITY_RULES"
  }
  assert {
    condition     = local.lineage_environment.CEAP_CODE_SHA256 == var.stage_package.code_zip_sha256
    error_message = "every function knows its code zip's hash (manifest lineage.code)"
  }
  assert {
    condition     = module.glue_job[0].default_arguments["--ceap_script_sha256"] == var.glue_script.sha256 && module.glue_job[0].default_arguments["--ceap_code_sha256"] == var.stage_package.code_zip_sha256
    error_message = "the HeavyETL job records its script and code hashes"
  }
}

run "rejects_unknown_check" {
  command = plan

  variables {
    quality_rules = [{ name = "x", stage = "ETL", check = "mostly_fine" }]
  }

  expect_failures = [var.quality_rules]
}

run "rejects_rule_on_glue_stage" {
  command = plan

  variables {
    quality_rules = [{ name = "x", stage = "HeavyETL", check = "min_records" }]
  }

  expect_failures = [var.quality_rules]
}

run "rejects_value_range_without_bounds" {
  command = plan

  variables {
    quality_rules = [{ name = "x", stage = "Score", check = "value_range", fields = ["scores.*.value"] }]
  }

  expect_failures = [var.quality_rules]
}

run "rejects_share_over_one" {
  command = plan

  variables {
    quality_rules = [{ name = "x", stage = "ETL", check = "max_rejected_share", threshold = 5 }]
  }

  expect_failures = [var.quality_rules]
}

run "rejects_duplicate_names" {
  command = plan

  variables {
    quality_rules = [
      { name = "x", stage = "ETL", check = "min_records" },
      { name = "x", stage = "Filter", check = "min_records" },
    ]
  }

  expect_failures = [var.quality_rules]
}
