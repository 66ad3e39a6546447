# A variables file: not part of the configuration (it would be invalid as one).
db_host = "prod-db.internal"
