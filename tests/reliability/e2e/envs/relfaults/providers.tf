provider "aws" {
  default_tags {
    tags = {
      Project   = "ceap"
      Workflow  = "relfaults"
      ManagedBy = "terraform"
    }
  }
}
