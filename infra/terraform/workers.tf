# Workers on a managed instance group of Debian VMs: test suites, local services and fixers run as child
# processes in bubblewrap, which needs unprivileged user namespaces of a real kernel (not Cloud Run's
# sandbox). The startup script copies greenloop and node out of the image and runs the worker under
# systemd; SIGTERM on scale-in drains running jobs (BullMQ hands unfinished ones to another worker).

# A viewer token the workers' Ops Agent scrapes /metrics with (queue depth for the autoscaler). Create it
# after the first apply (docs/google-cloud.md, step 4): terraform makes only the secret, not its value.
resource "google_secret_manager_secret" "metrics_token" {
  secret_id = "${var.name}-metrics-token"
  replication {
    auto {}
  }
  depends_on = [google_project_service.apis]
}

resource "google_compute_instance_template" "worker" {
  name_prefix  = "${var.name}-worker-"
  machine_type = var.worker_machine_type
  tags         = ["${var.name}-worker"]

  disk {
    source_image = "debian-cloud/debian-12"
    disk_size_gb = 50
    auto_delete  = true
    boot         = true
  }

  network_interface {
    subnetwork = google_compute_subnetwork.main.id
  }

  service_account {
    email  = google_service_account.worker.email
    scopes = ["cloud-platform"]
  }

  shielded_instance_config {
    enable_secure_boot = true
  }

  metadata = {
    enable-oslogin = "TRUE"
    startup-script = templatefile("${path.module}/worker-startup.sh.tftpl", {
      name            = var.name
      image           = var.image
      repo_url        = var.repo_url
      repo_key_secret = var.repo_ssh_key_secret
      bucket          = google_storage_bucket.artifacts.name
      api_url         = google_cloud_run_v2_service.api.uri
      concurrency     = var.worker_concurrency
      retention_days  = var.retention_days
      registry_host   = split("/", var.image)[0]
    })
  }

  lifecycle {
    create_before_destroy = true
  }
}

resource "google_compute_instance_group_manager" "workers" {
  name               = "${var.name}-workers"
  zone               = var.zone
  base_instance_name = "${var.name}-worker"

  version {
    instance_template = google_compute_instance_template.worker.id
  }

  # A new template rolls out one VM at a time, the new one up before an old one goes: old and new workers
  # run side by side (docs/google-cloud.md, "Rolling upgrade").
  update_policy {
    type                  = "PROACTIVE"
    minimal_action        = "REPLACE"
    max_surge_fixed       = 1
    max_unavailable_fixed = 0
  }
}

# One more VM per `jobs_per_worker` jobs waiting in greenloop's queues: the API's /metrics
# (greenloop_queue_jobs{state="waiting"}), scraped by the workers' Ops Agent into Managed Prometheus.
resource "google_compute_autoscaler" "workers" {
  name   = "${var.name}-workers"
  zone   = var.zone
  target = google_compute_instance_group_manager.workers.id

  autoscaling_policy {
    min_replicas    = var.workers_min
    max_replicas    = var.workers_max
    cooldown_period = 300
    # Scale in slowly: a VM that goes away hands its running jobs to another worker.
    scale_in_control {
      time_window_sec = 1800
      max_scaled_in_replicas {
        fixed = 1
      }
    }
    metric {
      name                       = "prometheus.googleapis.com/greenloop_queue_jobs/gauge"
      filter                     = "resource.type = \"prometheus_target\" AND metric.labels.state = \"waiting\""
      single_instance_assignment = var.jobs_per_worker
    }
  }
}
