# ERROR(nofile): No configuration files
# A directory that holds only a variables file has no configuration.
crm_password = "x"
