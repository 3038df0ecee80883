"""A local Discord: gateway, REST, CDN and a control API, faithful to Discord's documentation.

Tests, the sandbox and the benchmarks run the real bot against it over real sockets. When in doubt it
follows ``../shared/discord`` (the OpenAPI spec and docs pages) and is strict: what Discord would reject,
it rejects.
"""
