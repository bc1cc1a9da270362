# Evidence (GREENLOOP_ARTIFACTS=gcs). The retention job deletes a finished loop's objects after
# retention_days; the lifecycle rule is the backstop (objects a day older than that go regardless).
resource "google_storage_bucket" "artifacts" {
  name                        = "${var.project}-${var.name}-artifacts"
  location                    = var.region
  uniform_bucket_level_access = true
  public_access_prevention    = "enforced"
  force_destroy               = false

  lifecycle_rule {
    condition {
      age = var.retention_days + 1
    }
    action {
      type = "Delete"
    }
  }
  depends_on = [google_project_service.apis]
}
