"""Vendor-neutral outbound HTTP: the connections provider adapters send their calls on.

`Transport` (the protocol, `base`), its two implementations (`http_client.HttpClient`, native;
`aiohttp_transport.AiohttpTransport`), and `Transports`, the process's registry of them.
"""
