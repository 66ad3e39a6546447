select id, email, name, plan
from {{ source('app', 'users') }}
where deleted_at is null
