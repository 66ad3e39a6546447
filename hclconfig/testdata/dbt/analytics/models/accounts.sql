{{ config(materialized='table') }}
select id, name from {{ source('app', 'accounts') }}
