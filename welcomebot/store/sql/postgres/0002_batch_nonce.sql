-- The nonce of the message a claimed join is being posted in, written before the post. A restart re-posts
-- the same batch with the same nonce, so Discord returns the message it may already have created.
ALTER TABLE welcome_log ADD COLUMN nonce TEXT;
