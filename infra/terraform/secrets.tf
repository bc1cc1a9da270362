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
    # Not secret, but the API has no checkout: Secret Manager is how a file reaches a Cloud Run container.
    "greenloop-yaml" = file(var.greenloop_yaml)
  }
  # for_each needs keys that are not sensitive; the values are.
  secret_names = toset(["api-token", "token-secret", "redis-url", "redis-ca", "greenloop-yaml"])
}

resource "google_secret_manager_secret" "s" {
  for_each  = local.secret_names
  secret_id = "${var.name}-${each.key}"
  replication {
    auto {}
  }
  depends_on = [google_project_service.apis]
}

resource "google_secret_manager_secret_version" "s" {
  for_each    = local.secret_names
  secret      = google_secret_manager_secret.s[each.key].id
  secret_data = local.secrets[each.key]
}
