-- The stream log of resumable runs (`stream_resumable: true`): every event a run published, in
-- order (`seq`), with the id it was sent with, and a last `control` row marking its end. Written
-- with the run's final status, so a join after the end (`Last-Event-ID`) replays it, across
-- restarts; rows go with their run (delete, rollback) or thread.
CREATE TABLE IF NOT EXISTS run_events (
    run_id    TEXT NOT NULL,
    seq       BIGINT NOT NULL,
    thread_id TEXT NOT NULL,
    event_id  TEXT NOT NULL,
    event     TEXT NOT NULL,
    data      TEXT NOT NULL,
    PRIMARY KEY (run_id, seq)
);
CREATE INDEX IF NOT EXISTS run_events_by_thread ON run_events (thread_id, event_id);
