# Region and credentials come from the environment (AWS_REGION, AWS_PROFILE, ...);
# the wrapper adds endpoints for the local cloud, never this file.
provider "aws" {
  default_tags {
    tags = {
      Project   = "ceap"
      Workflow  = "batch"
      ManagedBy = "terraform"
    }
  }
}
