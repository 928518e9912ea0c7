import fs from 'node:fs';
import path from 'node:path';
import { printSchema } from 'graphql';
import { schema } from '../src/graphql/schema';

describe('schema.graphql', () => {
  it('is exactly the schema the code builds (run `npm run schema:print` after changing the API)', () => {
    const committed = fs.readFileSync(path.resolve(__dirname, '../schema.graphql'), 'utf8');
    expect(committed).toBe(`${printSchema(schema)}\n`);
  });
});
