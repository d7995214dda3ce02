-- A thread is busy from the moment a run of it is queued: the run's INSERT marks it, in the
-- same statement (one round trip to the database instead of a transaction of two).
CREATE OR REPLACE FUNCTION orrery_mark_thread_busy() RETURNS trigger AS $$
BEGIN
    UPDATE threads SET status = 'busy', updated_at = NEW.created_at WHERE thread_id = NEW.thread_id;
    RETURN NEW;
END;
$$ LANGUAGE plpgsql;
DROP TRIGGER IF EXISTS runs_mark_thread_busy ON runs;
CREATE TRIGGER runs_mark_thread_busy AFTER INSERT ON runs
FOR EACH ROW WHEN (NEW.status IN ('pending', 'running'))
EXECUTE FUNCTION orrery_mark_thread_busy();
