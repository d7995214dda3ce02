-- Thread search pages in SQL: the default order (most recently updated first, the thread id
-- breaking ties) and a status filter in that order are index scans that stop after the page.
CREATE INDEX IF NOT EXISTS threads_by_updated ON threads (updated_at, thread_id);
CREATE INDEX IF NOT EXISTS threads_by_status ON threads (status, updated_at, thread_id);
