# Non-secret values for production: rowform plan -var-file=prod.vars.hcl
# Secrets stay out of files: export ROWFORM_VAR_crm_password and
# WAREHOUSE_PASSWORD instead.
environment    = "prod"
warehouse_host = "warehouse.prod.internal"
crm_host       = "crm-db.prod.internal"
bastion_host   = "bastion.prod.example.com"
