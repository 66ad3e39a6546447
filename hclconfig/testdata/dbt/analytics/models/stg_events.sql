{{ config(materialized='ephemeral') }}
select * from {{ source('app', 'events') }}
