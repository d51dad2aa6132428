-- A Space's log in one environment includes the events that concern the whole Space
-- (`environment IS NULL`), so its query cannot walk `audit_events_by_tenant` in order and sorted
-- the whole Space's log for each page (issue 19's benchmark: 13 ms for 10,000 events on SQLite,
-- growing with the log). This index is walked newest first, filtered by environment, and stops
-- at the page's end.
CREATE INDEX audit_events_by_space ON audit_events (space_id, seq);
