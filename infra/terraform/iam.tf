# Two service accounts with exactly the roles docs/google-cloud.md lists ("Service accounts of
# greenloop itself"). Bucket and secret roles are granted on the resource, not the project.
resource "google_service_account" "api" {
  account_id   = "${var.name}-api"
  display_name = "greenloop API (Cloud Run)"
}

resource "google_service_account" "worker" {
  account_id   = "${var.name}-worker"
  display_name = "greenloop workers (Compute Engine)"
}

# API: reads evidence, reads its secrets.
resource "google_storage_bucket_iam_member" "api_reads_artifacts" {
  bucket = google_storage_bucket.artifacts.name
  role   = "roles/storage.objectViewer"
  member = google_service_account.api.member
}

resource "google_secret_manager_secret_iam_member" "api" {
  for_each  = toset(["api-token", "token-secret", "redis-url", "redis-ca", "greenloop-yaml"])
  secret_id = google_secret_manager_secret.s[each.value].id
  role      = "roles/secretmanager.secretAccessor"
  member    = google_service_account.api.member
}

# Workers: write and delete evidence (retention), read their secrets, write their own logs and metrics.
resource "google_storage_bucket_iam_member" "worker_writes_artifacts" {
  bucket = google_storage_bucket.artifacts.name
  role   = "roles/storage.objectAdmin"
  member = google_service_account.worker.member
}

resource "google_secret_manager_secret_iam_member" "worker" {
  for_each  = toset(["token-secret", "redis-url", "redis-ca", "metrics-token"])
  secret_id = each.value == "metrics-token" ? google_secret_manager_secret.metrics_token.id : google_secret_manager_secret.s[each.value].id
  role      = "roles/secretmanager.secretAccessor"
  member    = google_service_account.worker.member
}

resource "google_secret_manager_secret_iam_member" "worker_repo_key" {
  count     = var.repo_ssh_key_secret == "" ? 0 : 1
  secret_id = var.repo_ssh_key_secret
  role      = "roles/secretmanager.secretAccessor"
  member    = google_service_account.worker.member
}

resource "google_project_iam_member" "worker_log_writer" {
  project = var.project
  role    = "roles/logging.logWriter"
  member  = google_service_account.worker.member
}

resource "google_project_iam_member" "worker_metric_writer" {
  project = var.project
  role    = "roles/monitoring.metricWriter"
  member  = google_service_account.worker.member
}

# What the loops do on the environments they fix (docs/google-cloud.md, "Permissions of the worker's
# service account"). roles/iam.serviceAccountUser on each Cloud Run service's runtime account is granted
# by you, on that account: Terraform here does not know them.
resource "google_project_iam_member" "worker_run_developer" {
  for_each = toset(local.deploy_projects)
  project  = each.value
  role     = "roles/run.developer"
  member   = google_service_account.worker.member
}

resource "google_project_iam_member" "worker_logging_viewer" {
  for_each = toset(local.deploy_projects)
  project  = each.value
  role     = "roles/logging.viewer"
  member   = google_service_account.worker.member
}
