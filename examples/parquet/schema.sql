-- The destination tables of examples/parquet.
CREATE TABLE public.accounts (
  id            bigint PRIMARY KEY,
  name          text NOT NULL,
  billing_email text,
  plan          text NOT NULL CHECK (plan IN ('free', 'pro', 'enterprise')),
  mrr           numeric(10,2),
  updated_at    timestamptz,
  tags          jsonb
);

CREATE TABLE public.account_usage (
  account_id   bigint PRIMARY KEY REFERENCES public.accounts (id),
  events       integer NOT NULL,
  exports      integer NOT NULL,
  last_seen_at timestamptz
);
