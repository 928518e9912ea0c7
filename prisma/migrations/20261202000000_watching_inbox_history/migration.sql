-- AlterEnum (new values are not used in this transaction, which PostgreSQL requires)
ALTER TYPE "EventType" ADD VALUE 'BUG_WATCHED';
ALTER TYPE "EventType" ADD VALUE 'BUG_UNWATCHED';
ALTER TYPE "EventType" ADD VALUE 'NOTIFICATIONS_READ';

-- CreateEnum
CREATE TYPE "NotificationKind" AS ENUM ('BUG_ASSIGNED', 'STATUS_CHANGED', 'COMMENT_ADDED', 'BUG_EDITED');

-- CreateEnum
CREATE TYPE "ActivityKind" AS ENUM ('CREATED', 'UPDATED', 'STATUS_CHANGED', 'ASSIGNED', 'COMMENTED', 'WATCHED');

-- CreateTable
CREATE TABLE "BugWatcher" (
    "bugId" UUID NOT NULL,
    "userId" UUID NOT NULL,
    "watching" BOOLEAN NOT NULL DEFAULT true,
    "createdAt" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "updatedAt" TIMESTAMPTZ(3) NOT NULL,

    CONSTRAINT "BugWatcher_pkey" PRIMARY KEY ("bugId","userId")
);

-- CreateTable
CREATE TABLE "Notification" (
    "id" UUID NOT NULL,
    "seq" SERIAL NOT NULL,
    "recipientId" UUID NOT NULL,
    "kind" "NotificationKind" NOT NULL,
    "actorId" UUID NOT NULL,
    "projectId" UUID NOT NULL,
    "bugId" UUID NOT NULL,
    "commentId" UUID,
    "position" BIGINT NOT NULL,
    "data" JSONB NOT NULL DEFAULT '{}',
    "readAt" TIMESTAMPTZ(3),
    "createdAt" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "Notification_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "BugActivity" (
    "id" UUID NOT NULL,
    "seq" SERIAL NOT NULL,
    "bugId" UUID NOT NULL,
    "kind" "ActivityKind" NOT NULL,
    "actorId" UUID NOT NULL,
    "commentId" UUID,
    "changes" JSONB NOT NULL DEFAULT '[]',
    "createdAt" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "BugActivity_pkey" PRIMARY KEY ("id")
);

-- CreateIndex
CREATE INDEX "BugWatcher_userId_idx" ON "BugWatcher"("userId");

-- CreateIndex
CREATE UNIQUE INDEX "Notification_seq_key" ON "Notification"("seq");

-- CreateIndex
CREATE INDEX "Notification_recipientId_seq_idx" ON "Notification"("recipientId", "seq" DESC);

-- CreateIndex
CREATE INDEX "Notification_recipientId_readAt_idx" ON "Notification"("recipientId", "readAt");

-- CreateIndex
CREATE INDEX "Notification_createdAt_idx" ON "Notification"("createdAt");

-- CreateIndex
CREATE UNIQUE INDEX "Notification_position_recipientId_key" ON "Notification"("position", "recipientId");

-- CreateIndex
CREATE UNIQUE INDEX "BugActivity_seq_key" ON "BugActivity"("seq");

-- CreateIndex
CREATE INDEX "BugActivity_bugId_seq_idx" ON "BugActivity"("bugId", "seq");

-- AddForeignKey
ALTER TABLE "BugWatcher" ADD CONSTRAINT "BugWatcher_bugId_fkey" FOREIGN KEY ("bugId") REFERENCES "Bug"("id") ON DELETE CASCADE ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "BugWatcher" ADD CONSTRAINT "BugWatcher_userId_fkey" FOREIGN KEY ("userId") REFERENCES "User"("id") ON DELETE CASCADE ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "Notification" ADD CONSTRAINT "Notification_recipientId_fkey" FOREIGN KEY ("recipientId") REFERENCES "User"("id") ON DELETE CASCADE ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "Notification" ADD CONSTRAINT "Notification_actorId_fkey" FOREIGN KEY ("actorId") REFERENCES "User"("id") ON DELETE CASCADE ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "Notification" ADD CONSTRAINT "Notification_projectId_fkey" FOREIGN KEY ("projectId") REFERENCES "Project"("id") ON DELETE CASCADE ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "Notification" ADD CONSTRAINT "Notification_bugId_fkey" FOREIGN KEY ("bugId") REFERENCES "Bug"("id") ON DELETE CASCADE ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "Notification" ADD CONSTRAINT "Notification_commentId_fkey" FOREIGN KEY ("commentId") REFERENCES "Comment"("id") ON DELETE SET NULL ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "BugActivity" ADD CONSTRAINT "BugActivity_bugId_fkey" FOREIGN KEY ("bugId") REFERENCES "Bug"("id") ON DELETE CASCADE ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "BugActivity" ADD CONSTRAINT "BugActivity_actorId_fkey" FOREIGN KEY ("actorId") REFERENCES "User"("id") ON DELETE CASCADE ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "BugActivity" ADD CONSTRAINT "BugActivity_commentId_fkey" FOREIGN KEY ("commentId") REFERENCES "Comment"("id") ON DELETE SET NULL ON UPDATE CASCADE;
