-- An inbox page is `WHERE "recipientId" = $1 ORDER BY "seq" DESC LIMIT n`, which
-- "Notification_recipientId_seq_idx" answers. With a unique index on "seq" alone beside it, the
-- planner walked that one backwards instead, filtering out every other user's notifications, for
-- anyone holding a large share of them: the whole table for a user whose newest entry is old.
-- DropIndex
DROP INDEX "Notification_seq_key";
