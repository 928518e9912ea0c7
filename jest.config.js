/** @type {import('jest').Config} */
module.exports = {
  testEnvironment: 'node',
  roots: ['<rootDir>/test'],
  testMatch: ['**/*.test.ts'],
  transform: { '^.+\\.ts$': ['ts-jest', { isolatedModules: true, diagnostics: false }] },
  // Prisma's generated client imports its siblings as './x.js'; the sources are .ts.
  moduleNameMapper: { '^(\\.{1,2}/.*)\\.js$': '$1' },
  // On the embedded default: PGlite's initdb once per run, not once per suite.
  globalSetup: '<rootDir>/test/helpers/global-setup.ts',
  globalTeardown: '<rootDir>/test/helpers/global-teardown.ts',
  testTimeout: 30_000,
  // Each suite starts its own server and database. On PGlite that is all work in the suite's own
  // process, and two keep two cores busy; on PostgreSQL part of it is the database server's, and a
  // third suite fills the gaps (CI's PostgreSQL pass: 166 s with two, 144 s with three).
  maxWorkers: process.env.DATABASE_URL ? 3 : 2,
};
