{{ config(alias='fct_orders', materialized='table') }}
select id, account_id, total from {{ source('app', 'orders') }}
