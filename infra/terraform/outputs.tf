output "api_url" {
  description = "The API's URL (GREENLOOP_URL for the CLI)."
  value       = google_cloud_run_v2_service.api.uri
}

output "artifacts_bucket" {
  description = "The evidence bucket (GREENLOOP_ARTIFACTS_BUCKET)."
  value       = google_storage_bucket.artifacts.name
}

output "api_token_secret" {
  description = "Secret Manager secret holding the bootstrap admin token: gcloud secrets versions access latest --secret=<this>."
  value       = google_secret_manager_secret.s["api-token"].secret_id
}

output "worker_service_account" {
  description = "Grant it roles/iam.serviceAccountUser on each Cloud Run service's runtime account the loops deploy."
  value       = google_service_account.worker.email
}

output "redis_host" {
  description = "Memorystore address (inside the VPC only)."
  value       = google_redis_instance.redis.host
}
