-- One schema for SQLite and PostgreSQL: JSON is stored as TEXT, integers as BIGINT.
-- Assistants and their versions.
CREATE TABLE IF NOT EXISTS assistants (
    assistant_id TEXT PRIMARY KEY NOT NULL,
    graph_id     TEXT NOT NULL,
    config       TEXT NOT NULL,
    context      TEXT NOT NULL,
    metadata     TEXT NOT NULL,
    name         TEXT NOT NULL,
    description  TEXT,
    version      BIGINT NOT NULL,
    created_at   TEXT NOT NULL,
    updated_at   TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS assistant_versions (
    assistant_id TEXT NOT NULL,
    version      BIGINT NOT NULL,
    graph_id     TEXT NOT NULL,
    config       TEXT NOT NULL,
    context      TEXT NOT NULL,
    metadata     TEXT NOT NULL,
    name         TEXT NOT NULL,
    description  TEXT,
    created_at   TEXT NOT NULL,
    PRIMARY KEY (assistant_id, version)
);

-- Threads, with the denormalised status and values the API shows.
CREATE TABLE IF NOT EXISTS threads (
    thread_id        TEXT PRIMARY KEY NOT NULL,
    created_at       TEXT NOT NULL,
    updated_at       TEXT NOT NULL,
    state_updated_at TEXT NOT NULL,
    metadata         TEXT NOT NULL,
    status           TEXT NOT NULL,
    config           TEXT NOT NULL,
    "values"         TEXT,
    error            TEXT,
    interrupts       TEXT
);

-- Runs; pending ones are the queue.
CREATE TABLE IF NOT EXISTS runs (
    run_id             TEXT PRIMARY KEY NOT NULL,
    thread_id          TEXT NOT NULL,
    assistant_id       TEXT NOT NULL,
    metadata           TEXT NOT NULL,
    status             TEXT NOT NULL,
    kwargs             TEXT NOT NULL,
    multitask_strategy TEXT NOT NULL,
    created_at         TEXT NOT NULL,
    updated_at         TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS runs_by_thread ON runs (thread_id, created_at);
CREATE INDEX IF NOT EXISTS runs_by_status ON runs (status, created_at);

-- Checkpoints (the engine's format) and the pending writes stored against them.
CREATE TABLE IF NOT EXISTS checkpoints (
    thread_id            TEXT NOT NULL,
    checkpoint_ns        TEXT NOT NULL,
    checkpoint_id        TEXT NOT NULL,
    parent_checkpoint_id TEXT,
    run_id               TEXT,
    checkpoint           TEXT NOT NULL,
    metadata             TEXT NOT NULL,
    PRIMARY KEY (thread_id, checkpoint_ns, checkpoint_id)
);
CREATE INDEX IF NOT EXISTS checkpoints_by_run ON checkpoints (thread_id, run_id);
CREATE TABLE IF NOT EXISTS checkpoint_writes (
    thread_id     TEXT NOT NULL,
    checkpoint_ns TEXT NOT NULL,
    checkpoint_id TEXT NOT NULL,
    task_id       TEXT NOT NULL,
    idx           BIGINT NOT NULL,
    channel       TEXT NOT NULL,
    value         TEXT NOT NULL,
    task_path     TEXT NOT NULL,
    PRIMARY KEY (thread_id, checkpoint_ns, checkpoint_id, task_id, idx)
);
