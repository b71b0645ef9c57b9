"""One module per public dialect: how it reads requests and writes answers."""
