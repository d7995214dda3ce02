-- Thread search pages in SQL: the default order (most recently updated first, the thread id
-- breaking ties) and a status filter in that order are index scans that stop after the page.
-- The search compares and sorts in byte order (COLLATE "C", as SQLite and the API do), which
-- only an index of that collation serves.
CREATE INDEX IF NOT EXISTS threads_by_updated ON threads (updated_at COLLATE "C", thread_id COLLATE "C");
CREATE INDEX IF NOT EXISTS threads_by_status ON threads (status COLLATE "C", updated_at COLLATE "C", thread_id COLLATE "C");
