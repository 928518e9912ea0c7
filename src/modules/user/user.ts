import { UserRole, UserStatus } from '../../generated/prisma/enums';
import { transact } from '../../events/outbox';
import { builder } from '../../graphql/builder';
import { columnDescription } from '../../graphql/columns';
import { NOT_CACHED } from '../../graphql/response-cache';
import { PERSONAL, SHARED } from '../../graphql/viewer';
import { forbidden, unauthenticated, badUserInput, notFound } from '../../graphql/errors';
import { parseId } from '../../graphql/ids';
import { LIMITS, checkFields, pageSize, requiredText } from '../../graphql/validation';
import { hashPassword, UNMATCHABLE_HASH, verifyPassword } from '../../server/auth';
import { viewerOf } from '../../server/context';
import { visibleUsers } from './access';

export const UserRoleEnum = builder.enumType(UserRole, {
  name: 'UserRole',
  description: 'What a user may do across the whole tracker.',
});

export const UserStatusEnum = builder.enumType(UserStatus, {
  name: 'UserStatus',
  description: 'Presence a user shows to their teammates.',
});

export const UserNode = builder.prismaNode('User', {
  id: { field: 'id' },
  extensions: SHARED,
  // The name, read from the row by its field (see columnDescription); the other columns only when
  // asked, which keeps password hashes in the database.
  select: { id: true, name: true },
  findUnique: (id, ctx) => ({ id, AND: [visibleUsers(viewerOf(ctx))] }),
  fields: (t) => ({
    email: t.exposeString('email'),
    name: t.string({ description: columnDescription('User', 'name'), resolve: (user) => user.name }),
    role: t.expose('role', { type: UserRoleEnum }),
    status: t.expose('status', { type: UserStatusEnum }),
    createdAt: t.expose('createdAt', { type: 'DateTime' }),
    updatedAt: t.expose('updatedAt', { type: 'DateTime' }),
  }),
});

builder.queryFields((t) => ({
  me: t.prismaField({
    type: 'User',
    nullable: true,
    description: 'The signed-in user; null without a token.',
    resolve: (query, _root, _args, ctx) => {
      // Spread before the early return: Pothos warns about a resolver that leaves its query unread.
      const selection = { ...query };
      return ctx.viewer === null ? null : ctx.prisma.user.findUnique({ ...selection, where: { id: ctx.viewer.id } });
    },
  }),
  users: t.prismaConnection(
    {
      type: 'User',
      cursor: 'id',
      ...pageSize,
      description: 'Every user for an admin; for anyone else, the people who share a project with them.',
      // A sign-up writes no event, so nothing would tell the cache that the directory grew.
      extensions: NOT_CACHED,
      resolve: (query, _root, _args, ctx) =>
        ctx.prisma.user.findMany({
          ...query,
          where: visibleUsers(viewerOf(ctx)),
          orderBy: [{ createdAt: 'asc' }, { id: 'asc' }],
        }),
      totalCount: (_root, _args, ctx) => ctx.prisma.user.count({ where: visibleUsers(viewerOf(ctx)) }),
    },
    { extensions: PERSONAL },
  ),
}));

// --- Sign-up and log-in -------------------------------------------------------------------------

const AuthPayload = builder.objectRef<{ token: string; userId: string }>('AuthPayload').implement({
  // The token is the signed-in user's own.
  extensions: PERSONAL,
  description: 'A fresh access token and the user it signs in. Send it as `Authorization: Bearer <token>`.',
  fields: (t) => ({
    token: t.exposeString('token'),
    user: t.prismaField({
      type: 'User',
      resolve: (query, payload, _args, ctx) =>
        ctx.prisma.user.findUniqueOrThrow({ ...query, where: { id: payload.userId } }),
    }),
  }),
});

const SignUpInput = builder.inputType('SignUpInput', {
  fields: (t) => ({
    email: t.string({ required: true }),
    name: t.string({ required: true }),
    password: t.string({ required: true, description: `At least ${LIMITS.passwordMin} characters.` }),
  }),
});

const LogInInput = builder.inputType('LogInInput', {
  fields: (t) => ({
    email: t.string({ required: true }),
    password: t.string({ required: true }),
  }),
});

const EMAIL = /^[^\s@]+@[^\s@]+\.[^\s@]+$/;

/** Emails compare case-insensitively, so they are stored and looked up lower-cased. */
function normalizeEmail(email: string): string {
  const normalized = email.trim().toLowerCase();
  if (!EMAIL.test(normalized) || normalized.length > LIMITS.email) {
    throw badUserInput('email', 'email must be a valid email address.');
  }
  return normalized;
}

// Serialises sign-ups that might be the first, so two racing into an empty database make one admin.
const FIRST_USER_LOCK = 4_201_337;

builder.mutationFields((t) => ({
  signUp: t.field({
    type: AuthPayload,
    description: 'Creates an account and signs it in. The first account in an empty database becomes an ADMIN.',
    args: { input: t.arg({ type: SignUpInput, required: true }) },
    resolve: async (_root, { input }, ctx) => {
      await ctx.rateLimits.signInAttempt(ctx.clientAddress);
      const { email, name } = checkFields({
        email: () => normalizeEmail(input.email),
        name: () => requiredText(input.name, 'name', LIMITS.userName),
        password: () => {
          if (input.password.length < LIMITS.passwordMin || input.password.length > LIMITS.passwordMax) {
            throw badUserInput(
              'password',
              `password must be ${LIMITS.passwordMin} to ${LIMITS.passwordMax} characters.`,
            );
          }
        },
      });
      const passwordHash = await hashPassword(input.password);
      const user = await ctx.prisma.$transaction(async (tx) => {
        await tx.$executeRaw`SELECT pg_advisory_xact_lock(${FIRST_USER_LOCK})`;
        const isFirst = (await tx.user.findFirst({ select: { id: true } })) === null;
        return tx.user.create({
          data: { email, name, passwordHash, role: isFirst ? 'ADMIN' : 'MEMBER' },
          select: { id: true, role: true },
        });
      });
      return { token: ctx.tokens.sign({ userId: user.id, role: user.role }), userId: user.id };
    },
  }),
  logIn: t.field({
    type: AuthPayload,
    description: 'Exchanges an email and password for an access token.',
    args: { input: t.arg({ type: LogInInput, required: true }) },
    resolve: async (_root, { input }, ctx) => {
      // Every check before the hash: scrypt is the expensive part, and what a guesser is after.
      await ctx.rateLimits.signInAttempt(ctx.clientAddress);
      if (input.password.length > LIMITS.passwordMax) {
        throw badUserInput('password', `password must be at most ${LIMITS.passwordMax} characters.`);
      }
      // Counted whether or not the account exists, so the answer does not tell which do.
      const email = input.email.trim().toLowerCase();
      await ctx.rateLimits.loginAttempt(email);
      const user = await ctx.prisma.user.findUnique({
        where: { email },
        select: { id: true, role: true, passwordHash: true },
      });
      // Verify even when there is no such user, so timing does not tell which part was wrong.
      const valid = await verifyPassword(input.password, user?.passwordHash ?? UNMATCHABLE_HASH);
      if (user === null || !valid) throw unauthenticated('Wrong email or password.');
      await ctx.rateLimits.loginSucceeded(email);
      return { token: ctx.tokens.sign({ userId: user.id, role: user.role }), userId: user.id };
    },
  }),
}));

builder.relayMutationField(
  'updateUserStatus',
  {
    inputFields: (t) => ({
      userId: t.id({ required: true }),
      status: t.field({ type: UserStatusEnum, required: true }),
    }),
  },
  {
    description: "Sets a user's presence. Users set their own; admins set anyone's.",
    resolve: async (_root, { input }, ctx) => {
      const viewer = viewerOf(ctx);
      const userId = parseId(input.userId, 'User', 'userId');
      if (userId !== viewer.id && viewer.role !== 'ADMIN') {
        throw forbidden("Only an admin can change another user's status.");
      }
      const status = input.status;
      await transact(ctx, async (tx, emit) => {
        // Locked, so two racing changes each record the status the other left.
        const [user] = await tx.$queryRaw<{ status: UserStatus }[]>`
          SELECT "status" FROM "User" WHERE "id" = ${userId}::uuid FOR UPDATE`;
        if (user === undefined) throw notFound('User', 'userId');
        if (user.status === status) return;
        await tx.user.update({ where: { id: userId }, data: { status }, select: { id: true } });
        emit({
          type: 'USER_STATUS_CHANGED',
          actorId: viewer.id,
          userId,
          data: { previousStatus: user.status, status },
        });
      });
      return { userId };
    },
  },
  {
    outputFields: (t) => ({
      user: t.prismaField({
        type: 'User',
        resolve: (query, payload, _args, ctx) =>
          ctx.prisma.user.findUniqueOrThrow({ ...query, where: { id: payload.userId } }),
      }),
    }),
  },
);
