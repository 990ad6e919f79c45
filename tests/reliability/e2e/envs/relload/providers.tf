provider "aws" {
  default_tags {
    tags = {
      Project   = "ceap"
      Workflow  = "relload"
      ManagedBy = "terraform"
    }
  }
}
