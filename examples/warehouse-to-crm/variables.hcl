# Inputs. Values come, later winning, from the defaults below, -var-file
# (see prod.vars.hcl), ROWFORM_VAR_<name> and -var name=value.

variable "crm_password" {
  type        = string
  sensitive   = true # never printed, never stored in a plan file
  description = "Password of the rowform role on the CRM database. Set ROWFORM_VAR_crm_password."
}

variable "environment" {
  type    = string
  default = "staging"
}

variable "warehouse_host" {
  type    = string
  default = "warehouse.staging.internal"
}

variable "crm_host" {
  type        = string
  default     = "crm-db.staging.internal"
  description = "The CRM database's name as the bastion resolves it."
}

variable "bastion_host" {
  type    = string
  default = "bastion.staging.example.com"
}

variable "ssh_key_file" {
  type    = string
  default = "~/.ssh/id_ed25519"
}

locals {
  crm_schema         = "public"
  warehouse_database = "analytics_${var.environment}"
}
