output "glue_scripts_bucket" {
  description = "Name of the shared Glue script bucket (ceap-glue-scripts-{account_id})."
  value       = module.glue_scripts_bucket.bucket_name
}
