# Data-quality gates and lineage: what each stage function is told beyond its own
# settings (lambda_src/ceap_stages/quality.py and lineage.py read these variables).
#
# CEAP_QUALITY_RULES: the stage's own rules (var.quality_rules), as JSON; absent when
# the stage has none. CEAP_CODE_SHA256: the stage code zip's base64 SHA-256, recorded
# in every manifest's lineage.code (the HeavyETL job gets it and its script's hex
# SHA-256 as --ceap_code_sha256 / --ceap_script_sha256).

locals {
  quality_rules_by_stage = {
    for s in concat(local.lambda_stages, keys(local.custom_lambda_stages)) : s => [
      for r in var.quality_rules : { for k, v in r : k => v if k != "stage" && v != null } if r.stage == s
    ]
  }

  lineage_environment = {
    CEAP_CODE_SHA256 = var.stage_package.code_zip_sha256
  }

  quality_environment = {
    for s in concat(local.lambda_stages, keys(local.custom_lambda_stages)) : s => length(local.quality_rules_by_stage[s]) > 0 ? {
      CEAP_QUALITY_RULES = jsonencode(local.quality_rules_by_stage[s])
    } : {}
  }

  glue_lineage_arguments = {
    "--ceap_code_sha256"   = var.stage_package.code_zip_sha256
    "--ceap_script_sha256" = try(var.glue_script.sha256, "")
  }
}
