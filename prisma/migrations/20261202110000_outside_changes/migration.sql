-- Changes made outside the API (psql, a script, another service) reach subscribers like any other:
-- a trigger on "Bug", "Comment" and "Project" appends the event (and, for a bug, its history entry)
-- in the writing transaction, with no actor. The API marks its own transactions
-- (set_config('bugzapp.origin', 'api', true), src/events/outbox.ts) and writes its own events, so
-- each of its writes stays exactly one event. Instances find these events by polling the table.
-- Not covered: deletes, and comment edits (no event type says what they were).

-- AlterTable
ALTER TABLE "Event" ALTER COLUMN "actorId" DROP NOT NULL;

-- AlterTable
ALTER TABLE "BugActivity" ALTER COLUMN "actorId" DROP NOT NULL;

-- The next event position, in commit order and without gaps: the same table lock the API's outbox takes.
CREATE FUNCTION "bugzapp_append_event"(
  event_type "EventType", project_id UUID, bug_id UUID, comment_id UUID, user_id UUID, event_data JSONB
) RETURNS VOID LANGUAGE plpgsql AS $$
BEGIN
  LOCK TABLE "Event" IN EXCLUSIVE MODE;
  INSERT INTO "Event" ("position", "type", "actorId", "projectId", "bugId", "commentId", "userId", "data")
  SELECT COALESCE(MAX("position"), 0) + 1, event_type, NULL, project_id, bug_id, comment_id, user_id, event_data
  FROM "Event";
END $$;

-- A field change as history and events record it: { field, from, to }, values as text.
CREATE FUNCTION "bugzapp_field_change"(field TEXT, old_value TEXT, new_value TEXT) RETURNS JSONB
LANGUAGE sql IMMUTABLE AS $$
  SELECT CASE WHEN old_value IS DISTINCT FROM new_value
    THEN jsonb_build_array(jsonb_build_object('field', field, 'from', old_value, 'to', new_value))
    ELSE '[]'::jsonb END
$$;

CREATE FUNCTION "bugzapp_user_name"(user_id UUID) RETURNS TEXT LANGUAGE sql STABLE AS $$
  SELECT "name" FROM "User" WHERE "id" = user_id
$$;

CREATE FUNCTION "bugzapp_bug_changed_outside"() RETURNS TRIGGER LANGUAGE plpgsql AS $$
DECLARE
  changes JSONB;
  event_type "EventType";
  activity "ActivityKind";
  event_data JSONB;
BEGIN
  IF current_setting('bugzapp.origin', true) = 'api' THEN
    RETURN NULL;
  END IF;
  IF TG_OP = 'INSERT' THEN
    changes := "bugzapp_field_change"('title', NULL, NEW."title")
      || "bugzapp_field_change"('description', NULL, NULLIF(NEW."description", ''))
      || "bugzapp_field_change"('status', NULL, NEW."status"::TEXT)
      || "bugzapp_field_change"('priority', NULL, NEW."priority"::TEXT)
      || "bugzapp_field_change"('assignee', NULL, "bugzapp_user_name"(NEW."assigneeId"));
    event_type := 'BUG_CREATED';
    activity := 'CREATED';
    event_data := jsonb_build_object('changes', changes);
  ELSE
    changes := "bugzapp_field_change"('title', OLD."title", NEW."title")
      || "bugzapp_field_change"('description', OLD."description", NEW."description")
      || "bugzapp_field_change"('priority', OLD."priority"::TEXT, NEW."priority"::TEXT)
      || "bugzapp_field_change"('status', OLD."status"::TEXT, NEW."status"::TEXT)
      || "bugzapp_field_change"('assignee', "bugzapp_user_name"(OLD."assigneeId"), "bugzapp_user_name"(NEW."assigneeId"));
    IF jsonb_array_length(changes) = 0 THEN
      RETURN NULL; -- nothing a subscriber sees changed (bookkeeping such as updatedAt alone)
    END IF;
    event_data := jsonb_build_object('changes', changes);
    IF jsonb_array_length(changes) = 1 AND OLD."status" IS DISTINCT FROM NEW."status" THEN
      event_type := 'BUG_STATUS_CHANGED';
      activity := 'STATUS_CHANGED';
      event_data := event_data || jsonb_build_object('from', OLD."status", 'to', NEW."status");
    ELSIF jsonb_array_length(changes) = 1 AND OLD."assigneeId" IS DISTINCT FROM NEW."assigneeId" THEN
      event_type := 'BUG_ASSIGNED';
      activity := 'ASSIGNED';
    ELSE
      event_type := 'BUG_UPDATED';
      activity := 'UPDATED';
    END IF;
  END IF;
  INSERT INTO "BugActivity" ("id", "bugId", "kind", "actorId", "changes")
  VALUES (gen_random_uuid(), NEW."id", activity, NULL, changes);
  PERFORM "bugzapp_append_event"(event_type, NEW."projectId", NEW."id", NULL, NEW."assigneeId", event_data);
  RETURN NULL;
END $$;

CREATE FUNCTION "bugzapp_comment_added_outside"() RETURNS TRIGGER LANGUAGE plpgsql AS $$
DECLARE
  project_id UUID;
BEGIN
  IF current_setting('bugzapp.origin', true) = 'api' THEN
    RETURN NULL;
  END IF;
  SELECT "projectId" INTO project_id FROM "Bug" WHERE "id" = NEW."bugId";
  INSERT INTO "BugActivity" ("id", "bugId", "kind", "actorId", "commentId")
  VALUES (gen_random_uuid(), NEW."bugId", 'COMMENTED', NULL, NEW."id");
  PERFORM "bugzapp_append_event"('COMMENT_ADDED', project_id, NEW."bugId", NEW."id", NULL, '{}'::jsonb);
  RETURN NULL;
END $$;

CREATE FUNCTION "bugzapp_project_changed_outside"() RETURNS TRIGGER LANGUAGE plpgsql AS $$
BEGIN
  IF current_setting('bugzapp.origin', true) = 'api' THEN
    RETURN NULL;
  END IF;
  IF TG_OP = 'UPDATE' AND OLD."key" = NEW."key" AND OLD."name" = NEW."name" AND OLD."description" = NEW."description" THEN
    RETURN NULL; -- bookkeeping only (bugCount, updatedAt)
  END IF;
  PERFORM "bugzapp_append_event"(
    CASE TG_OP WHEN 'INSERT' THEN 'PROJECT_CREATED'::"EventType" ELSE 'PROJECT_UPDATED'::"EventType" END,
    NEW."id", NULL, NULL, NULL, '{}'::jsonb
  );
  RETURN NULL;
END $$;

CREATE TRIGGER "bugzapp_bug_changed_outside" AFTER INSERT OR UPDATE ON "Bug"
  FOR EACH ROW EXECUTE FUNCTION "bugzapp_bug_changed_outside"();

CREATE TRIGGER "bugzapp_comment_added_outside" AFTER INSERT ON "Comment"
  FOR EACH ROW EXECUTE FUNCTION "bugzapp_comment_added_outside"();

CREATE TRIGGER "bugzapp_project_changed_outside" AFTER INSERT OR UPDATE ON "Project"
  FOR EACH ROW EXECUTE FUNCTION "bugzapp_project_changed_outside"();
