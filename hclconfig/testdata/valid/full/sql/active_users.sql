select user_id, email_address, full_name
from users
where active
