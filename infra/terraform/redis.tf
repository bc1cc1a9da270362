# Memorystore for Redis with AUTH and in-transit encryption. BullMQ must never lose a job to eviction:
# maxmemory-policy noeviction. Clients connect with rediss:// and trust the instance's CA through
# NODE_EXTRA_CA_CERTS (the CA is kept in Secret Manager below).
resource "google_redis_instance" "redis" {
  name                    = "${var.name}-redis"
  region                  = var.region
  tier                    = var.redis_tier
  memory_size_gb          = var.redis_memory_gb
  redis_version           = "REDIS_7_2"
  authorized_network      = google_compute_network.vpc.id
  connect_mode            = "DIRECT_PEERING"
  auth_enabled            = true
  transit_encryption_mode = "SERVER_AUTHENTICATION"
  redis_configs = {
    "maxmemory-policy" = "noeviction"
  }
  depends_on = [google_project_service.apis]
}
