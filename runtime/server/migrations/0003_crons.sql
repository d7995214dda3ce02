-- Crons: scheduled runs. `payload` is the run body each firing uses; `next_run_at` (unix
-- seconds) is the next firing, which the scheduler claims by advancing it; `end_time` is kept as
-- sent and `end_at` is its unix microseconds (9223372036854775807 when there is none);
-- `enabled` is 0 or 1.
CREATE TABLE IF NOT EXISTS crons (
    cron_id          TEXT PRIMARY KEY NOT NULL,
    assistant_id     TEXT NOT NULL,
    thread_id        TEXT,
    user_id          TEXT NOT NULL,
    end_time         TEXT,
    end_at           BIGINT NOT NULL,
    schedule         TEXT NOT NULL,
    timezone         TEXT,
    payload          TEXT NOT NULL,
    next_run_at      BIGINT NOT NULL,
    metadata         TEXT NOT NULL,
    on_run_completed TEXT,
    enabled          BIGINT NOT NULL,
    created_at       TEXT NOT NULL,
    updated_at       TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS crons_due ON crons (enabled, next_run_at);
CREATE INDEX IF NOT EXISTS crons_by_thread ON crons (thread_id);
CREATE INDEX IF NOT EXISTS crons_by_assistant ON crons (assistant_id);
