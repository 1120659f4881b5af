-- The per-key cap on one subject's entries counts them from the subject's
-- entries (subjects' primary key, then signed's), not from everything the
-- key signed: nothing looks entries up by key first any more, and an index
-- that leads with the key is one more write for every entry (and one that
-- invites the planner to walk all the key's entries for each append).
DROP INDEX signed_key;
