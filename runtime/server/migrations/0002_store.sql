-- The key-value store: items by namespace (labels joined with '.', which labels cannot contain).
CREATE TABLE IF NOT EXISTS store_items (
    namespace  TEXT NOT NULL,
    key        TEXT NOT NULL,
    value      TEXT NOT NULL,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL,
    ttl_minutes DOUBLE PRECISION,
    expires_at TEXT,
    PRIMARY KEY (namespace, key)
);
