-- The destination table of the quickstart. Run it once:
--   psql -f examples/quickstart/schema.sql
CREATE TABLE IF NOT EXISTS public.users (
    id           bigint PRIMARY KEY,
    email        text NOT NULL,
    name         text,
    plan         text,
    signed_up_at timestamptz,
    created_at   timestamptz DEFAULT now()
);
