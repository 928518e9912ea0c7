import { createHash } from 'node:crypto';

/** What the PostgreSQL driver adapter asks a name for: the SQL of one statement and its arguments. */
interface Statement {
  sql: string;
  args: unknown[];
}

/**
 * Names the statements Prisma sends so that each pooled connection parses and plans a statement
 * once and runs it as a prepared statement from then on (`pg` remembers, per connection, which
 * names it has prepared). Unnamed, PostgreSQL plans every execution afresh: for the joined page
 * of a bug list that planning costs more than running it.
 *
 * A name is the hash of the SQL, so every process and connection agree on it. Two statements stay
 * unnamed (the empty name is the protocol's unnamed statement):
 * - one without arguments, which `pg` sends as a simple query, the only way a multi-statement
 *   script may run;
 * - any text beyond the first `limit` distinct ones, so that a stream of one-off statements (an
 *   `IN` list of every length, say) cannot make each connection keep thousands of plans.
 */
export function statementNames(limit = 500): (statement: Statement) => string {
  const names = new Map<string, string>();
  return ({ sql, args }) => {
    if (args.length === 0) return '';
    let name = names.get(sql);
    if (name === undefined) {
      if (names.size >= limit) return '';
      name = `bz_${createHash('sha1').update(sql).digest('base64url')}`;
      names.set(sql, name);
    }
    return name;
  };
}
