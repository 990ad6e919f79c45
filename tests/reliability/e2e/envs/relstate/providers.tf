provider "aws" {
  default_tags {
    tags = {
      Project   = "ceap"
      Workflow  = "relstate"
      ManagedBy = "terraform"
    }
  }
}
