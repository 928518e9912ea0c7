import type { CodegenConfig } from '@graphql-codegen/cli';

/**
 * Typed documents for every operation the tests send (`graphql(...)` calls under test/), generated
 * from the committed schema.graphql: `npm run codegen`. The same setup serves any TypeScript client.
 */
const config: CodegenConfig = {
  schema: 'schema.graphql',
  documents: ['test/**/*.ts', '!test/gql/**'],
  ignoreNoDocuments: true,
  generates: {
    'test/gql/': {
      preset: 'client',
      presetConfig: { fragmentMasking: false },
      config: { enumsAsTypes: true, useTypeImports: true, scalars: { DateTime: 'string' } },
    },
  },
};

export default config;
