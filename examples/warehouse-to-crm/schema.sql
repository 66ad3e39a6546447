-- Tables of the warehouse-to-crm example.
--
-- In production the two halves live in different databases: the "analytics"
-- schema in the warehouse, the "public" tables in the CRM. To try the example
-- on one local server, run the whole file on one database and point both
-- the source and the destination at it.

-- Warehouse side: what the queries in sql/ read.
CREATE SCHEMA IF NOT EXISTS analytics;

CREATE TABLE IF NOT EXISTS analytics.accounts (
    account_id   bigint PRIMARY KEY,
    account_name text NOT NULL,
    domain       text,
    plan         text NOT NULL,
    mrr          numeric(12,2) NOT NULL DEFAULT 0,
    is_deleted   boolean NOT NULL DEFAULT false
);

CREATE TABLE IF NOT EXISTS analytics.subscriptions (
    subscription_id bigint PRIMARY KEY,
    account_id      bigint NOT NULL REFERENCES analytics.accounts,
    product         text NOT NULL,
    status          text NOT NULL,
    seats           integer NOT NULL,
    renews_on       date
);

CREATE TABLE IF NOT EXISTS analytics.contact_scores (
    contact_id bigint PRIMARY KEY,
    email      text NOT NULL,
    lead_score integer NOT NULL
);

CREATE TABLE IF NOT EXISTS analytics.events (
    event_id    uuid PRIMARY KEY,
    account_id  bigint NOT NULL,
    kind        text NOT NULL,
    occurred_at timestamptz NOT NULL
);

-- CRM side: the destination tables. Each has a primary key on exactly the
-- sync's key columns, which rowform requires to match rows.
CREATE TABLE IF NOT EXISTS public.accounts (
    id         bigint PRIMARY KEY,
    name       text NOT NULL,
    domain     text,
    plan       text NOT NULL,
    mrr        numeric(12,2) NOT NULL,
    owner      text,                       -- set by sales in the CRM; not synced
    created_at timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE IF NOT EXISTS public.subscriptions (
    id         bigint PRIMARY KEY,
    account_id bigint NOT NULL REFERENCES public.accounts,
    product    text NOT NULL,
    status     text NOT NULL,
    seats      integer NOT NULL,
    renews_on  date
);

CREATE TABLE IF NOT EXISTS public.contacts (
    id         bigint PRIMARY KEY,
    email      text NOT NULL,
    full_name  text,                       -- maintained in the CRM
    lead_score integer
);

CREATE TABLE IF NOT EXISTS public.activity_events (
    event_id    uuid PRIMARY KEY,
    account_id  bigint NOT NULL,
    kind        text NOT NULL,
    occurred_at timestamptz NOT NULL
);

-- The role rowform connects as needs, on the CRM: to read and write the
-- synced tables, to stage changes in temporary tables, and a schema for
-- the run history (or history = false on the destination). rowform plan
-- names any of these that is missing, with the statement that grants it.
-- CREATE ROLE rowform LOGIN PASSWORD '...';
-- GRANT USAGE ON SCHEMA public TO rowform;
-- GRANT SELECT, INSERT, UPDATE ON public.accounts, public.contacts, public.activity_events TO rowform;
-- GRANT SELECT, INSERT, UPDATE, DELETE ON public.subscriptions TO rowform;
-- GRANT TEMPORARY ON DATABASE crm TO rowform;
-- CREATE SCHEMA IF NOT EXISTS rowform AUTHORIZATION rowform;
-- On the warehouse, the role it reads as needs USAGE on the analytics
-- schema and SELECT on its tables.
