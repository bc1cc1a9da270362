# Secrets live in Secret Manager and reach the processes as environment variables (Cloud Run) or a
# root-only env file written at boot (workers). Nothing secret is in the instance metadata.
resource "random_password" "api_token" {
  length  = 48
  special = false
}

resource "random_password" "token_secret" {
  length  = 64
  special = false
}

locals {
  secrets = {
    "api-token"    = random_password.api_token.result
    "token-secret" = random_password.token_secret.result
    "redis-url"    = "rediss://:${google_redis_instance.redis.auth_string}@${google_redis_instance.redis.host}:${google_redis_instance.redis.port}"
    "redis-ca"     = join("\n", [for c in google_redis_instance.redis.server_ca_certs : c.cert])
  }
}

resource "google_secret_manager_secret" "s" {
  for_each  = local.secrets
  secret_id = "${var.name}-${each.key}"
  replication {
    auto {}
  }
  depends_on = [google_project_service.apis]
}

resource "google_secret_manager_secret_version" "s" {
  for_each    = local.secrets
  secret      = google_secret_manager_secret.s[each.key].id
  secret_data = each.value
}
