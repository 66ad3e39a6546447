# Four syncs, one per behavior.

# Accounts: create new ones, keep existing ones up to date.
sync "accounts" {
  source      = source.postgres.warehouse
  query       = file("sql/accounts.sql")
  destination = destination.postgres.crm
  table       = "${local.crm_schema}.accounts"
  behavior    = "update_or_create"
  key         = ["id"]
  mapping = {
    id     = "account_id"
    name   = "account_name"
    domain = "domain"
    plan   = "plan"
    mrr    = "mrr"
  }
}

# Subscriptions: the CRM holds exactly what the warehouse holds, deletions
# included. The guard stops a plan that would delete more than expected,
# and an empty source never wipes the table.
sync "subscriptions" {
  source      = source.postgres.warehouse
  query       = file("sql/subscriptions.sql")
  destination = destination.postgres.crm
  table       = "${local.crm_schema}.subscriptions"
  behavior    = "mirror"
  key         = ["id"]
  mapping = {
    id         = "subscription_id"
    account_id = "account_id"
    product    = "product"
    status     = "status"
    seats      = "seats"
    renews_on  = "renews_on"
  }
  depends_on = [sync.accounts] # subscriptions reference accounts

  guard {
    max_deletes        = 50
    max_delete_percent = 10
    min_source_rows    = 1
  }
}

# Lead scores: update contacts the CRM already has; never create contacts.
sync "contact_scores" {
  source      = source.postgres.warehouse
  query       = file("sql/contact_scores.sql")
  destination = destination.postgres.crm
  table       = "${local.crm_schema}.contacts"
  behavior    = "update_only"
  key         = "id"
  mapping = {
    id         = "contact_id"
    email      = "email"
    lead_score = "lead_score"
  }
  sensitive_columns = ["email"] # never shown in plan samples
}

# Activity events: insert new ones; events never change once written.
sync "activity_events" {
  source      = source.postgres.warehouse
  query       = file("sql/activity_events.sql")
  destination = destination.postgres.crm
  table       = "${local.crm_schema}.activity_events"
  behavior    = "append"
  key         = ["event_id"]
  depends_on  = [sync.accounts]
}
