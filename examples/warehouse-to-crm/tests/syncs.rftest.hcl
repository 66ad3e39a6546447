# Tests of the four syncs: run them with
# `rowform -chdir=examples/warehouse-to-crm test`. The warehouse and the CRM
# each get a test database on a throwaway PostgreSQL server; no configured
# host, bastion or password is used. See docs/testing.md.

source "postgres" "warehouse" {
  # The warehouse half of schema.sql (the file creates both halves), and
  # events relative to now(), which the query of activity_events needs.
  sql = <<-SQL
    ${file("schema.sql")}
    INSERT INTO analytics.events VALUES
      ('00000000-0000-0000-0000-000000000001', 1, 'login',  now() - interval '1 day'),
      ('00000000-0000-0000-0000-000000000002', 2, 'signup', now() - interval '2 days'),
      ('00000000-0000-0000-0000-000000000003', 1, 'login',  now() - interval '90 days');
  SQL

  table "analytics.accounts" {
    rows = [
      { account_id = 1, account_name = "Acme", domain = "acme.com", plan = "pro", mrr = 499, is_deleted = false },
      { account_id = 2, account_name = "Globex", domain = "globex.com", plan = "team", mrr = 99.5, is_deleted = false },
      { account_id = 3, account_name = "Initech", domain = null, plan = "free", mrr = 0, is_deleted = false },
      { account_id = 4, account_name = "Gone", domain = "gone.com", plan = "pro", mrr = 10, is_deleted = true },
    ]
  }

  table "analytics.subscriptions" {
    rows = [
      { subscription_id = 10, account_id = 1, product = "crm", status = "active", seats = 5, renews_on = "2030-01-01" },
      { subscription_id = 11, account_id = 2, product = "crm", status = "active", seats = 3, renews_on = null },
      { subscription_id = 12, account_id = 3, product = "crm", status = "draft", seats = 1, renews_on = null },
      { subscription_id = 13, account_id = 4, product = "crm", status = "active", seats = 2, renews_on = null },
    ]
  }

  table "analytics.contact_scores" {
    rows = [
      { contact_id = 100, email = "ann@acme.com", lead_score = 80 },
      { contact_id = 101, email = "bob@globex.com", lead_score = 40 },
    ]
  }
}

destination "postgres" "crm" {
  sql = file("schema.sql")

  # Acme is already in the CRM, on an old plan, with an owner set by sales.
  table "public.accounts" {
    rows = [
      { id = 1, name = "Acme", domain = "acme.com", plan = "team", mrr = 99, owner = "sam" },
    ]
  }

  table "public.contacts" {
    rows = [
      { id = 100, email = "ann@acme.com", full_name = "Ann", lead_score = 10 },
    ]
  }
}

# Every sync at once: subscriptions depends on accounts, so its plan
# checks its foreign key against the accounts table as the accounts sync
# leaves it (with Globex and Initech inserted).
run "first_sync" {
  expect_plan "accounts" {
    insert = 2 # Globex and Initech; Gone is deleted in the warehouse
    update = 1 # Acme's plan and mrr
  }

  expect_plan "subscriptions" {
    insert = 2 # drafts and subscriptions of deleted accounts stay out
    delete = 0
  }

  # Columns the sync does not map (owner) keep their values.
  expect_table "public.accounts" {
    columns = ["id", "plan", "mrr", "owner"]
    rows = [
      { id = 1, plan = "pro", mrr = 499, owner = "sam" },
      { id = 2, plan = "team", mrr = 99.5, owner = null },
      { id = 3, plan = "free", mrr = 0, owner = null },
    ]
  }

  expect_plan "contact_scores" {
    update  = 1 # Ann's score
    skipped = 1 # update_only never creates Bob
  }

  expect_plan "activity_events" {
    insert = 2 # the events of the last 30 days
  }

  expect_table "public.contacts" {
    rows = [
      { id = 100, email = "ann@acme.com", full_name = "Ann", lead_score = 80 },
    ]
  }
}

# Globex's subscription becomes a draft: the mirror would delete 1 of 2
# rows, more than the guard's max_delete_percent = 10 allows. The plan is
# refused, and nothing is written.
run "guard_stops_deletes" {
  source "postgres" "warehouse" {
    sql = "UPDATE analytics.subscriptions SET status = 'draft' WHERE subscription_id = 11"
  }

  expect_plan "subscriptions" {
    delete   = 1
    findings = ["guard_exceeded"]
  }

  expect_table "public.subscriptions" {
    count = 2
  }
}

run "idempotent" {
  command = "plan"

  source "postgres" "warehouse" {
    sql = "UPDATE analytics.subscriptions SET status = 'active' WHERE subscription_id = 11"
  }

  expect_plan "accounts" {
    insert = 0
    update = 0
  }
  expect_plan "subscriptions" {
    insert = 0
    update = 0
    delete = 0
  }
  expect_plan "contact_scores" {
    update  = 0
    skipped = 1
  }
  expect_plan "activity_events" {
    insert = 0
  }
}
