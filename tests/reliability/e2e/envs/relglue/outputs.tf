output "workflow" {
  description = "The deployed workflow (docs/ARCHITECTURE.md, Terraform)."
  value       = module.workflow.summary
}
