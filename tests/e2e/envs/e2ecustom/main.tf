# The worked example of custom stages, data-quality gates and lineage (README, Custom
# stages), deployed and run on the local cloud by tests/e2e/test_custom_stages.py:
#
#   ETL -> Filter -> CustomRegionTag (Lambda) -> HeavyETL (Glue) -> CustomValueBand (Glue)
#       -> Score -> Store -> Reactive
#
# Both custom stages are modules of the stage code zip (lambda_src/ceap_stages/custom/).
# The quality rules: ETL may reject at most 20 % of its input (fail), Filter leaves at
# least one candidate of a non-empty input (fail), every tagged candidate has a region
# (fail, on the custom stage), scores lie in [0, 1] (fail), at most 10 % of the scored
# candidates lack HeavyETL's enrichment (fail), and a warn rule that sample data trips
# on purpose (every score at least 0.99).
#
# The stages run inline: a custom Glue stage after HeavyETL cannot run once per part, so
# fanout.enabled (null) does not fan out here (modules/workflow README, Fan-out).

module "workflow" {
  source = "../../modules/workflow"

  name          = "e2ecustom"
  type          = "STANDARD"
  stage_package = var.stage_package
  glue_script   = var.glue_script
  force_destroy = true

  custom_stages = [
    {
      id      = "CustomRegionTag"
      after   = "Filter"
      kind    = "lambda"
      handler = "ceap_stages.custom.region_tag.handler"
    },
    {
      id     = "CustomValueBand"
      after  = "HeavyETL"
      kind   = "glue"
      module = "ceap_stages.custom.value_band"
    },
  ]

  quality_rules = [
    { name = "etl-rejects", stage = "ETL", check = "max_rejected_share", threshold = 0.2 },
    { name = "some-candidates", stage = "Filter", check = "min_records" },
    { name = "has-region", stage = "CustomRegionTag", check = "required_fields", fields = ["attributes.region"] },
    { name = "score-unit", stage = "Score", check = "value_range", fields = ["scores.*.value"], min = 0, max = 1 },
    { name = "enriched", stage = "Score", check = "max_unenriched_share", threshold = 0.1 },
    { name = "scores-very-high", stage = "Score", check = "value_range", fields = ["scores.*.value"], min = 0.99, max = 1, action = "warn" },
  ]
}
