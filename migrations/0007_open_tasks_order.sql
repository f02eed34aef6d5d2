-- Task lists are ordered by (due_at, id); with id in the index a page of a long list is read in
-- order and stops after LIMIT rows instead of sorting every open task of the owner.
DROP INDEX tasks_open_due;
CREATE INDEX tasks_open_due ON tasks (tenant_id, owner_id, due_at, id) WHERE status = 'open';
