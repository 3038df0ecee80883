"""The gateway client: a sans-IO protocol core (:mod:`.protocol`) and a thin trio runner (:mod:`.shard`)."""
