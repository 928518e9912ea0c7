import type { SqlSession } from '../../src/infra/db';
import type { DatabaseShape } from './expected-schema';

const ACTIONS: Record<string, string> = {
  a: 'NO ACTION',
  r: 'RESTRICT',
  c: 'CASCADE',
  n: 'SET NULL',
  d: 'SET DEFAULT',
};

/** The structure of the public schema, read from pg_catalog, Prisma's bookkeeping table left out. */
export async function actualShape(session: SqlSession): Promise<DatabaseShape> {
  const shape: DatabaseShape = { enums: {}, columns: {}, indexes: {}, foreignKeys: {} };

  const enums = await session.query<{ name: string; labels: string[] }>(`
    SELECT t.typname AS name, array_agg(e.enumlabel::text ORDER BY e.enumsortorder) AS labels
    FROM pg_type t JOIN pg_enum e ON e.enumtypid = t.oid JOIN pg_namespace n ON n.oid = t.typnamespace
    WHERE n.nspname = 'public' GROUP BY t.typname`);
  for (const row of enums) shape.enums[row.name] = row.labels;

  const columns = await session.query<{
    table: string;
    column: string;
    type: string;
    notnull: boolean;
    default: string | null;
  }>(`
    SELECT c.relname AS "table", a.attname AS "column", format_type(a.atttypid, a.atttypmod) AS type,
           a.attnotnull AS notnull, pg_get_expr(d.adbin, d.adrelid) AS "default"
    FROM pg_attribute a
    JOIN pg_class c ON c.oid = a.attrelid JOIN pg_namespace n ON n.oid = c.relnamespace
    LEFT JOIN pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum
    WHERE n.nspname = 'public' AND c.relkind = 'r' AND c.relname <> '_prisma_migrations'
      AND a.attnum > 0 AND NOT a.attisdropped`);
  for (const row of columns) {
    const type = row.type.startsWith('"') ? row.type.slice(1, -1) : row.type;
    shape.columns[`${row.table}.${row.column}`] = { type, nullable: !row.notnull, default: row.default };
  }

  const indexes = await session.query<{
    name: string;
    table: string;
    unique: boolean;
    primary: boolean;
    columns: string[];
    descending: boolean[];
  }>(`
    SELECT i.relname AS name, t.relname AS "table", ix.indisunique AS "unique", ix.indisprimary AS "primary",
           array(SELECT a.attname::text FROM unnest(ix.indkey::int2[]) WITH ORDINALITY k(attnum, ord)
                 JOIN pg_attribute a ON a.attrelid = ix.indrelid AND a.attnum = k.attnum ORDER BY k.ord) AS columns,
           array(SELECT (o & 1) = 1 FROM unnest(ix.indoption::int2[]) WITH ORDINALITY opt(o, ord) ORDER BY ord) AS descending
    FROM pg_index ix
    JOIN pg_class i ON i.oid = ix.indexrelid JOIN pg_class t ON t.oid = ix.indrelid
    JOIN pg_namespace n ON n.oid = t.relnamespace
    WHERE n.nspname = 'public' AND t.relname <> '_prisma_migrations'`);
  for (const row of indexes) {
    shape.indexes[row.name] = {
      table: row.table,
      unique: row.unique,
      primary: row.primary,
      columns: row.columns.map((column, i) => `${column}${row.descending[i] ? ' DESC' : ''}`),
    };
  }

  const keys = await session.query<{
    name: string;
    table: string;
    columns: string[];
    references: string;
    referenced: string[];
    ondelete: string;
    onupdate: string;
  }>(`
    SELECT c.conname AS name, t.relname AS "table", r.relname AS "references",
           array(SELECT a.attname::text FROM unnest(c.conkey) WITH ORDINALITY k(attnum, ord)
                 JOIN pg_attribute a ON a.attrelid = c.conrelid AND a.attnum = k.attnum ORDER BY k.ord) AS columns,
           array(SELECT a.attname::text FROM unnest(c.confkey) WITH ORDINALITY k(attnum, ord)
                 JOIN pg_attribute a ON a.attrelid = c.confrelid AND a.attnum = k.attnum ORDER BY k.ord) AS referenced,
           c.confdeltype::text AS ondelete, c.confupdtype::text AS onupdate
    FROM pg_constraint c
    JOIN pg_class t ON t.oid = c.conrelid JOIN pg_class r ON r.oid = c.confrelid
    JOIN pg_namespace n ON n.oid = t.relnamespace
    WHERE n.nspname = 'public' AND c.contype = 'f'`);
  for (const row of keys) {
    shape.foreignKeys[row.name] = {
      table: row.table,
      columns: row.columns,
      references: row.references,
      referencedColumns: row.referenced,
      onDelete: ACTIONS[row.ondelete]!,
      onUpdate: ACTIONS[row.onupdate]!,
    };
  }
  return shape;
}
