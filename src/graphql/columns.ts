import type PrismaTypes from '../generated/pothos-types';
import { datamodel } from './builder';

type Model = keyof PrismaTypes;

/**
 * The description of a field that reads a column straight from its row: the column's `///`
 * comment in schema.prisma, as `t.expose*` would have given it.
 *
 * Why a field would read the row itself rather than `t.expose*` it: on a type that selects its own
 * columns (a Pothos `select`), every exposed column asks the loader, for every row, whether the
 * query that loaded the row selected it, and records the row's scope: a string key and two weak-map
 * operations per field per row, some 300 of them on a page of 20 bugs. A column the type selects
 * for itself is in every row of it, so its field need not ask: list it in the type's `select` and
 * resolve it from the row, which TypeScript then checks is loaded.
 *
 * Only for the small columns nearly every query shows (titles, names, statuses): a column in the
 * type's `select` is read for every row, asked for or not, and reading costs more than asking.
 * With every column but descriptions and password hashes selected, a page of bugs cost 13 % more
 * CPU than with none; with these few, 10 % less (bench/README.md, "Columns read from the row").
 */
export function columnDescription<M extends Model>(
  model: M,
  column: keyof PrismaTypes[M]['Shape'] & string,
): string | undefined {
  const field = datamodel.datamodel.models[model]?.fields.find((candidate) => candidate.name === column);
  if (field === undefined) throw new Error(`${model}.${column} is not a column in schema.prisma`);
  return field.documentation;
}
