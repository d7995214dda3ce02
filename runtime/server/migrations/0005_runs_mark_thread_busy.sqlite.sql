-- A thread is busy from the moment a run of it is queued: the run's INSERT marks it, in the
-- same statement (one round trip to the database instead of a transaction of two).
CREATE TRIGGER IF NOT EXISTS runs_mark_thread_busy AFTER INSERT ON runs
WHEN NEW.status IN ('pending', 'running')
BEGIN
    UPDATE threads SET status = 'busy', updated_at = NEW.created_at WHERE thread_id = NEW.thread_id;
END;
