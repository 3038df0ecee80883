"""Storage: one async interface (:mod:`.api`), an SQLite backend (the embedded default) and migrations."""
