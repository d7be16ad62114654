"""Redis access: the key schema, the connection, Lua scripts and the records kept there."""
