-- Nothing to undo: the up migration is a no-op on SQLite.
SELECT 1;
