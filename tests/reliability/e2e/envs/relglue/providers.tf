provider "aws" {
  default_tags {
    tags = {
      Project   = "ceap"
      Workflow  = "relglue"
      ManagedBy = "terraform"
    }
  }
}
