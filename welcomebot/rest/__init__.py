"""Discord's REST API: routes and a sans-IO rate-limit core (:mod:`.buckets`), and the httpx client."""
