variable "project" {
  description = "Google Cloud project greenloop runs in."
  type        = string
}

variable "region" {
  description = "Region for Cloud Run, Memorystore, the bucket and the workers."
  type        = string
  default     = "europe-west1"
}

variable "zone" {
  description = "Zone of the worker instance group."
  type        = string
  default     = "europe-west1-b"
}

variable "name" {
  description = "Prefix of every resource name (one greenloop install per name)."
  type        = string
  default     = "greenloop"
}

variable "image" {
  description = "The greenloop container image (infra/docker/Dockerfile), e.g. europe-west1-docker.pkg.dev/acme/greenloop/greenloop:0.1.0. The API runs it on Cloud Run; workers copy greenloop and node out of it and run them natively (bubblewrap needs a real kernel, not a container sandbox)."
  type        = string
}

variable "repo_url" {
  description = "Git URL of the target repository (with greenloop.yaml). Workers clone it at boot into GREENLOOP_REPO; private repositories: put a deploy key in the secret named by repo_ssh_key_secret."
  type        = string
}

variable "greenloop_yaml" {
  description = "Path to the target repository's greenloop.yaml. The API (which has no checkout) gets this copy, mounted from Secret Manager; change it and apply again when the file changes."
  type        = string
}

variable "repo_ssh_key_secret" {
  description = "Optional Secret Manager secret id holding an SSH deploy key for repo_url."
  type        = string
  default     = ""
}

variable "retention_days" {
  description = "Days a finished loop's evidence is kept: GREENLOOP_RETENTION_DAYS, and the bucket's lifecycle deletes objects a day later as a backstop."
  type        = number
  default     = 30
}

variable "redis_memory_gb" {
  description = "Memorystore for Redis size (GB)."
  type        = number
  default     = 1
}

variable "redis_tier" {
  description = "BASIC (one node) or STANDARD_HA (replica, automatic failover)."
  type        = string
  default     = "STANDARD_HA"
}

variable "worker_machine_type" {
  description = "Machine type of a worker VM (test suites and fixers run there)."
  type        = string
  default     = "e2-standard-4"
}

variable "workers_min" {
  description = "Fewest worker VMs (at least 1: the loop controller and schedules need one)."
  type        = number
  default     = 1
}

variable "workers_max" {
  description = "Most worker VMs."
  type        = number
  default     = 4
}

variable "jobs_per_worker" {
  description = "Waiting jobs one worker VM is expected to absorb: the autoscaler adds a VM per this many waiting jobs."
  type        = number
  default     = 4
}

variable "worker_concurrency" {
  description = "GREENLOOP_CONCURRENCY on each worker (parallel stage jobs per queue)."
  type        = number
  default     = 4
}

variable "api_invokers" {
  description = "Principals allowed to call the API through Cloud Run IAM (e.g. [\"allUsers\"] to rely on greenloop's own tokens only, or a group)."
  type        = list(string)
  default     = ["allUsers"]
}

variable "deploy_projects" {
  description = "Projects whose Cloud Run services and logs the loops deploy and read (roles in docs/google-cloud.md). Empty: this project."
  type        = list(string)
  default     = []
}
