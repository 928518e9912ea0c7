-- CreateEnum
CREATE TYPE "EventType" AS ENUM ('BUG_CREATED', 'BUG_UPDATED', 'BUG_STATUS_CHANGED', 'BUG_ASSIGNED', 'COMMENT_ADDED', 'PROJECT_CREATED', 'PROJECT_UPDATED', 'MEMBER_ADDED', 'MEMBER_REMOVED', 'USER_STATUS_CHANGED');

-- CreateTable
CREATE TABLE "Event" (
    "position" BIGINT NOT NULL,
    "type" "EventType" NOT NULL,
    "actorId" UUID NOT NULL,
    "projectId" UUID,
    "bugId" UUID,
    "commentId" UUID,
    "userId" UUID,
    "data" JSONB NOT NULL DEFAULT '{}',
    "createdAt" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "Event_pkey" PRIMARY KEY ("position")
);

-- CreateIndex
CREATE INDEX "Event_createdAt_idx" ON "Event"("createdAt");
