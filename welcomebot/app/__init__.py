"""The welcome application: router, guild actors and the pipeline that turns a join into a posted card."""
