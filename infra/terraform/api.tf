# The API on Cloud Run: stateless (Redis holds state, the bucket holds evidence), at least one instance
# so status polls and event streams never wait for a cold start. It reaches Memorystore through Direct
# VPC egress. Secrets come from Secret Manager; the Redis CA is mounted as a file for NODE_EXTRA_CA_CERTS,
# and greenloop.yaml (the API validates environment names against it) as GREENLOOP_REPO/greenloop.yaml.
resource "google_cloud_run_v2_service" "api" {
  name                = "${var.name}-api"
  location            = var.region
  ingress             = "INGRESS_TRAFFIC_ALL"
  deletion_protection = false

  template {
    service_account = google_service_account.api.email
    scaling {
      min_instance_count = 1
      max_instance_count = 4
    }
    # Event streams (SSE) are long requests.
    timeout = "3600s"
    vpc_access {
      egress = "PRIVATE_RANGES_ONLY"
      network_interfaces {
        network    = google_compute_network.vpc.id
        subnetwork = google_compute_subnetwork.main.id
      }
    }
    volumes {
      name = "greenloop-yaml"
      secret {
        secret = google_secret_manager_secret.s["greenloop-yaml"].secret_id
        items {
          version = "latest"
          path    = "greenloop.yaml"
        }
      }
    }
    volumes {
      name = "redis-ca"
      secret {
        secret = google_secret_manager_secret.s["redis-ca"].secret_id
        items {
          version = "latest"
          path    = "redis-ca.pem"
        }
      }
    }
    containers {
      image   = var.image
      command = ["/usr/bin/tini", "--"]
      args    = ["node", "apps/api/src/main.ts"]
      ports {
        container_port = 7700
      }
      volume_mounts {
        name       = "redis-ca"
        mount_path = "/etc/greenloop/ca"
      }
      volume_mounts {
        name       = "greenloop-yaml"
        mount_path = "/etc/greenloop/repo"
      }
      env {
        name  = "GREENLOOP_REPO"
        value = "/etc/greenloop/repo"
      }
      env {
        name  = "HOST"
        value = "0.0.0.0"
      }
      env {
        name  = "NODE_EXTRA_CA_CERTS"
        value = "/etc/greenloop/ca/redis-ca.pem"
      }
      env {
        name  = "GREENLOOP_ARTIFACTS"
        value = "gcs"
      }
      env {
        name  = "GREENLOOP_ARTIFACTS_BUCKET"
        value = google_storage_bucket.artifacts.name
      }
      env {
        name  = "GREENLOOP_TRUST_PROXY"
        value = "1"
      }
      env {
        name  = "GREENLOOP_RETENTION_DAYS"
        value = tostring(var.retention_days)
      }
      dynamic "env" {
        for_each = { REDIS_URL = "redis-url", GREENLOOP_API_TOKEN = "api-token", GREENLOOP_TOKEN_SECRET = "token-secret" }
        content {
          name = env.key
          value_source {
            secret_key_ref {
              secret  = google_secret_manager_secret.s[env.value].secret_id
              version = "latest"
            }
          }
        }
      }
      startup_probe {
        http_get {
          path = "/healthz"
        }
      }
      liveness_probe {
        http_get {
          path = "/healthz"
        }
      }
    }
  }
  depends_on = [google_secret_manager_secret_iam_member.api, google_secret_manager_secret_version.s]
}

resource "google_cloud_run_v2_service_iam_member" "invokers" {
  for_each = toset(var.api_invokers)
  name     = google_cloud_run_v2_service.api.name
  location = var.region
  role     = "roles/run.invoker"
  member   = each.value
}
