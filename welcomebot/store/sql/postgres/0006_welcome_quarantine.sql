-- Why the last attempt at a claimed welcome failed (issue 18.3). attempts already counts every try, each
-- counted before it starts; a claim that reached the limit is marked failed ("quarantined after N attempts:
-- <last_error>") instead of being tried again, so one poison welcome cannot crash-loop the bot.
ALTER TABLE welcome_log ADD COLUMN last_error TEXT;
