-- An inbound text is stored at most as long as Twilio can deliver one (1,600 characters): a
-- longer body, even validly signed, is cut to its first 1,600 characters, and the message says
-- so here, so the cut is never mistaken for what the contact wrote.
ALTER TABLE messages ADD COLUMN body_truncated boolean NOT NULL DEFAULT false;
