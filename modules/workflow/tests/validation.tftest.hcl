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

run "rejects_uppercase_name" {
  command = plan

  variables {
    name = "RealTime"
  }

  expect_failures = [var.name]
}

run "rejects_long_name" {
  command = plan

  variables {
    name = "abcdefghijklmnopqrstuv"
  }

  expect_failures = [var.name]
}

run "rejects_unknown_type" {
  command = plan

  variables {
    type = "SYNC"
  }

  expect_failures = [var.type]
}

run "standard_needs_glue_script" {
  command = plan

  variables {
    type = "STANDARD"
  }

  expect_failures = [var.glue_script]
}

run "rejects_hex_zip_hash" {
  command = plan

  variables {
    stage_package = {
      code_zip_path    = "stage-code.zip"
      code_zip_sha256  = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
      layer_zip_path   = "stage-layer.zip"
      layer_zip_sha256 = "n4bQgYhMfWWaL+qgxVrQFaO/TxsrC4Is0V1sFbDwCgg="
      runtime          = "python3.12"
    }
  }

  expect_failures = [var.stage_package]
}

run "rejects_mixed_artifact_forms" {
  command = plan

  variables {
    stage_package = {
      code_zip_path    = "stage-code.zip"
      code_zip_sha256  = "47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU="
      layer_zip_path   = "stage-layer.zip"
      layer_zip_sha256 = "n4bQgYhMfWWaL+qgxVrQFaO/TxsrC4Is0V1sFbDwCgg="
      runtime          = "python3.12"
      s3_bucket        = "acme-ceap-artifacts"
    }
  }

  expect_failures = [var.stage_package]
}

run "rejects_incomplete_published_form" {
  command = plan

  variables {
    stage_package = {
      code_zip_sha256  = "47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU="
      layer_zip_sha256 = "n4bQgYhMfWWaL+qgxVrQFaO/TxsrC4Is0V1sFbDwCgg="
      runtime          = "python3.12"
      s3_bucket        = "acme-ceap-artifacts"
      code_zip_s3_key  = "ceap/stage-code/x.zip"
    }
  }

  expect_failures = [var.stage_package]
}

run "rejects_glue_script_in_both_forms" {
  command = plan

  variables {
    type = "STANDARD"
    glue_script = {
      path      = "heavy_etl.py"
      s3_bucket = "acme-ceap-artifacts"
      s3_key    = "ceap/glue/heavy_etl/x.py"
      sha256    = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
    }
  }

  expect_failures = [var.glue_script]
}

run "rejects_unknown_stage_override" {
  command = plan

  variables {
    stage_overrides = { HeavyETL = { memory_size = 4096 } }
  }

  expect_failures = [var.stage_overrides]
}

run "stage_overrides_apply" {
  command = plan

  variables {
    stage_overrides = {
      Filter = { memory_size = 768, environment = { CEAP_FILTER_MIN_ORDER_VALUE = "25" } }
      Score  = { reserved_concurrency = 3 }
    }
  }

  assert {
    condition     = module.stage["Filter"].memory_size == 768 && module.stage["Filter"].timeout == 30
    error_message = "an override replaces only what it sets"
  }
  assert {
    condition     = module.stage["ETL"].memory_size == 1024
    error_message = "other stages keep their defaults"
  }
  assert {
    condition     = module.stage["Score"].reserved_concurrency == 3
    error_message = "an override may reserve concurrency for one stage"
  }
  assert {
    condition     = alltrue([for s in ["ETL", "Filter", "Store", "Reactive"] : module.stage[s].reserved_concurrency == null])
    error_message = "the other stages reserve none"
  }
}

run "rejects_zero_reserved_concurrency" {
  command = plan

  variables {
    reserved_concurrency = 0
  }

  expect_failures = [var.reserved_concurrency]
}

run "express_visibility_must_outlast_a_run" {
  command = plan

  variables {
    queue_visibility_timeout_seconds = 300
  }

  expect_failures = [var.queue_visibility_timeout_seconds]
}

run "throttle_budget_override" {
  command = plan

  variables {
    throttle_retry_max_attempts = 3
  }

  assert {
    condition     = output.definition.States.Score.Retry[0].MaxAttempts == 3
    error_message = "an explicit throttling budget wins over the type's default"
  }
}

run "rejects_throttle_budget_over_20" {
  command = plan

  variables {
    throttle_retry_max_attempts = 21
  }

  expect_failures = [var.throttle_retry_max_attempts]
}
