-- The handlers workers have served on this journal, recorded when a worker registers, so that enqueueing for
-- a handler no worker has ever served (a typo) can be warned about.
CREATE TABLE served_handlers (
    handler         TEXT    PRIMARY KEY,
    first_served_at INTEGER NOT NULL,
    last_served_at  INTEGER NOT NULL
) WITHOUT ROWID;
