import { statementNames } from '../src/infra/statement-names';

describe('naming the statements Prisma sends to PostgreSQL', () => {
  const page = { sql: 'SELECT "id" FROM "Bug" WHERE "projectId" = $1 LIMIT $2', args: ['p', 20] };

  it('gives the same SQL the same name, in every process, and different SQL another', () => {
    const name = statementNames()(page);
    expect(name).toMatch(/^bz_[\w-]+$/);
    expect(statementNames()(page)).toBe(name);
    expect(statementNames()({ ...page, args: ['q', 5] })).toBe(name);
    expect(statementNames()({ ...page, sql: page.sql.replace('$2', '$2 OFFSET $3') })).not.toBe(name);
  });

  it('leaves a statement without arguments unnamed, so that a script of several still runs', () => {
    expect(statementNames()({ sql: 'SELECT 1; SELECT 2', args: [] })).toBe('');
  });

  it('names no more than its limit of distinct statements, and keeps naming those it has', () => {
    const names = statementNames(2);
    const first = names({ sql: 'SELECT $1', args: [1] });
    expect(names({ sql: 'SELECT $1, 2', args: [1] })).not.toBe('');
    expect(names({ sql: 'SELECT $1, 3', args: [1] })).toBe('');
    expect(names({ sql: 'SELECT $1', args: [1] })).toBe(first);
  });
});
