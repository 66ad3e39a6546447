# Tests of the sync "users": run them with `rowform -chdir=examples/quickstart test`
# (or `make demo`). They run on a throwaway PostgreSQL server; the runs of
# this file share its database, one after the other. See docs/testing.md.

# The destination's test database gets the real schema first.
destination "postgres" "local" {
  sql = file("schema.sql")

  # A row that is already there: user 1, on an older plan.
  table "public.users" {
    rows = [
      { id = 1, email = "ada@example.com", name = "Ada Lovelace", plan = "free", signed_up_at = "2024-01-15 09:30:00+00" },
    ]
  }
}

# The first plan reads data/users.csv as it is.
run "initial_load" {
  expect_plan "users" {
    insert    = 7
    update    = 1 # user 1 moves to "pro"
    unchanged = 0
    findings  = []
  }

  expect_table "public.users" {
    count = 8
  }

  # NULL stays NULL (user 5 has no plan), timestamps are compared as
  # timestamptz, quoted CSV fields keep their commas.
  expect_table "public.users" {
    columns = ["id", "name", "plan", "signed_up_at"]
    csv     = "tests/expected_users.csv"
  }
}

# Applying the same file again changes nothing.
run "idempotent" {
  command = "plan"

  expect_plan "users" {
    insert    = 0
    update    = 0
    unchanged = 8
  }
}

# A new export: Grace changes plan, Edsger gets one, a new user arrives.
# update_or_create leaves users missing from the file alone.
run "next_export" {
  source "csv" "users" {
    content = <<-CSV
      id,email,name,plan,signed_up_at
      2,grace@example.com,Grace Hopper,pro,2024-02-03T14:05:00Z
      5,edsger@example.com,Edsger Dijkstra,free,2024-04-01T12:00:00Z
      9,frances@example.com,Frances Allen,team,2024-07-01T08:00:00Z
    CSV
  }

  expect_plan "users" {
    insert = 1
    update = 2
    delete = 0
  }

  expect_table "public.users" {
    columns = ["id", "plan"]
    rows = [
      { id = 1, plan = "pro" },
      { id = 2, plan = "pro" },
      { id = 3, plan = "free" },
      { id = 4, plan = "pro" },
      { id = 5, plan = "free" },
      { id = 6, plan = "team" },
      { id = 7, plan = "free" },
      { id = 8, plan = "pro" },
      { id = 9, plan = "team" },
    ]
  }
}

# A row without a key stops the sync before anything is written.
run "missing_id" {
  source "csv" "users" {
    content = <<-CSV
      id,email,name,plan,signed_up_at
      ,nobody@example.com,Nobody,free,2024-08-01T00:00:00Z
    CSV
  }

  expect_plan "users" {
    findings = ["null_source_key"]
  }

  expect_table "public.users" {
    count = 9
  }
}
