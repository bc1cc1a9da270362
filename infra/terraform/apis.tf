locals {
  apis            = ["run.googleapis.com", "redis.googleapis.com", "secretmanager.googleapis.com", "compute.googleapis.com", "storage.googleapis.com", "logging.googleapis.com", "monitoring.googleapis.com", "vpcaccess.googleapis.com"]
  deploy_projects = length(var.deploy_projects) > 0 ? var.deploy_projects : [var.project]
}

resource "google_project_service" "apis" {
  for_each           = toset(local.apis)
  service            = each.value
  disable_on_destroy = false
}
