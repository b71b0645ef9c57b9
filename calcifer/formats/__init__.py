"""Wire shapes shared by the inbound handlers and the outbound adapters, one module per shape."""
