"""Vendor-neutral outbound HTTP: the connections provider adapters send their calls on."""
