// What one operation may ask of the server. Every check runs in parse or validate, so an operation
// over a limit is refused before its context is built or any resolver runs: no database work. They
// are envelop hooks on yoga's own envelop, which the WebSocket transport runs too (parse, validate,
// then execute or subscribe), so HTTP and WebSocket share them; none needs an HTTP request.
//
// Yoga caches parse results by query text and validation results by document. The token, depth,
// alias and directive limits depend on the document alone, so their errors may be cached with it.
// Cost depends on the variables too (`bugs(first: $n)`), so it is checked after validation, cached
// or not, and its error is thrown rather than added to the result that yoga caches.

import type { Plugin } from '@envelop/core';
import { maxAliasesPlugin } from '@escape.tech/graphql-armor-max-aliases';
import { maxDepthPlugin, type MaxDepthOptions } from '@escape.tech/graphql-armor-max-depth';
import { maxDirectivesPlugin } from '@escape.tech/graphql-armor-max-directives';
import { maxTokensPlugin } from '@escape.tech/graphql-armor-max-tokens';
import { createComplexityRule } from '@pothos/plugin-complexity';
import {
  GraphQLError,
  NoSchemaIntrospectionCustomRule,
  TypeInfo,
  validate,
  visit,
  visitWithTypeInfo,
  type DocumentNode,
  type ExecutionResult,
  type GraphQLSchema,
} from 'graphql';
import type { Config } from '../config';
import { queryTooComplex } from './errors';

/**
 * The envelop plugins that enforce `config.limits` (tokens, depth, aliases, directives, cost; each
 * off at 0), `config.introspection`, and, in production, hide "Did you mean ...?" suggestions.
 * Every refusal is a QUERY_TOO_COMPLEX error whose `extensions.limit` names the variable to raise.
 */
export function operationLimits(config: Config): Plugin[] {
  const { maxQueryTokens, maxQueryDepth, maxQueryAliases, maxQueryDirectives, maxQueryCost } = config.limits;
  const plugins: (Plugin | false)[] = [
    // Counts tokens as graphql's parser reads them and stops at the limit, so a deeply nested
    // document never reaches the recursive descent that would overflow the stack.
    maxQueryTokens > 0 &&
      maxTokensPlugin({
        n: maxQueryTokens,
        onReject: [
          () => {
            throw queryTooComplex(
              'MAX_QUERY_TOKENS',
              `Query token count is over the limit of ${maxQueryTokens} (MAX_QUERY_TOKENS).`,
            );
          },
        ],
      }),
    maxQueryDepth > 0 &&
      maxDepthPlugin({
        n: maxQueryDepth,
        // Depth is the nesting of fields; a fragment spread around them adds none.
        flattenFragments: true,
        propagateOnRejection: false,
        onReject: [reportOver('MAX_QUERY_DEPTH', 'depth', maxQueryDepth)],
      }),
    maxQueryAliases > 0 &&
      maxAliasesPlugin({
        n: maxQueryAliases,
        propagateOnRejection: false,
        onReject: [reportOver('MAX_QUERY_ALIASES', 'alias count', maxQueryAliases)],
      }),
    maxQueryDirectives > 0 &&
      maxDirectivesPlugin({
        n: maxQueryDirectives,
        propagateOnRejection: false,
        onReject: [reportOver('MAX_QUERY_DIRECTIVES', 'directive count', maxQueryDirectives)],
      }),
    // After the token limit, whose parser it wraps.
    parseFailures(),
    maxQueryCost > 0 && costLimit(maxQueryCost),
    !config.introspection && disableIntrospection(),
    config.production && hideSuggestions(),
  ];
  return plugins.filter((plugin): plugin is Plugin => plugin !== false);
}

/** What Armor calls when a rule finds the document over its limit. */
type ArmorRejection = NonNullable<MaxDepthOptions['onReject']>[number];

/**
 * An Armor rule's rejection, reported as our error instead of Armor's ("Syntax Error: ...") and
 * beside the other validation errors rather than thrown. The count comes from Armor's message,
 * which states it when `exposeLimits` is on (its default).
 */
function reportOver(limit: string, measure: string, max: number): ArmorRejection {
  return (context, armorError) => {
    const found = /found (\d+)/.exec(armorError.message)?.[1];
    const subject = found === undefined ? `Query ${measure}` : `Query ${measure} ${found}`;
    context?.reportError(queryTooComplex(limit, `${subject} is over the limit of ${max} (${limit}).`));
  };
}

/** Costs remembered per document, one for each operation name and values of its cost variables. */
const COSTS_PER_DOCUMENT = 64;

/** What costLimit keeps about one parsed document (yoga hands out the same object for the same text). */
interface DocumentCosts {
  /** The variables whose values can change the cost: those passed to a field with a cost function. */
  variables: string[];
  /** Cost by operation name and those variables' values, oldest first. */
  costs: Map<string, number>;
}

/**
 * MAX_QUERY_COST with Pothos' complexity rule: each field costs 1, and a list multiplies what it
 * selects by its page size (`first`, else 20; see the `complexity` options in builder.ts). A
 * subscription is costed the same way, for each event it delivers.
 *
 * Costing is a second walk of the whole document, so its result is kept with the document: a
 * client repeating a query (with another bug's `$id`, say) is costed once. The key holds the
 * operation name and the values of the variables that reach a field with a cost function (page
 * sizes); nothing else the rule reads can differ between two requests for the same document.
 */
function costLimit(max: number): Plugin {
  const byDocument = new WeakMap<DocumentNode, DocumentCosts>();
  return {
    onValidate({ params, context }) {
      // envelop types these loosely (its validate may be any engine's); ours is graphql-js's.
      const { schema, documentAST } = params as { schema: GraphQLSchema; documentAST: DocumentNode };
      return ({ valid }) => {
        // An invalid document already has its errors, and its cost may not be computable.
        if (!valid) return;
        const { variables, operationName } = requestParams(context);
        let known = byDocument.get(documentAST);
        if (known === undefined) {
          known = { variables: costVariables(schema, documentAST), costs: new Map() };
          byDocument.set(documentAST, known);
        }
        const key = JSON.stringify([
          operationName ?? null,
          ...known.variables.map((name) => (Object.hasOwn(variables, name) ? [variables[name]] : [])),
        ]);
        let cost = known.costs.get(key);
        if (cost === undefined) {
          cost = operationCost(schema, documentAST, context, variables, operationName);
          if (known.costs.size >= COSTS_PER_DOCUMENT) known.costs.delete(known.costs.keys().next().value!);
          known.costs.set(key, cost);
        }
        if (cost > max) {
          throw queryTooComplex('MAX_QUERY_COST', `Query cost ${cost} is over the limit of ${max} (MAX_QUERY_COST).`);
        }
      };
    },
  };
}

/** The cost of the operation by Pothos' complexity rule; 0 when it cannot be worked out. */
function operationCost(
  schema: GraphQLSchema,
  document: DocumentNode,
  context: object,
  variables: Record<string, unknown>,
  operationName: string | undefined,
): number {
  let cost = 0;
  // Errors this rule reports itself (bad variables, an unknown operation name) are left for
  // execution to report as it always has; only the cost is read here.
  validate(schema, document, [
    createComplexityRule({
      context,
      variableValues: variables,
      operationName,
      onResult: ({ complexity }) => {
        cost = Math.max(cost, complexity);
      },
    }),
  ]);
  return cost;
}

/** The variables used in the arguments of fields whose cost is a function of their arguments, sorted. */
function costVariables(schema: GraphQLSchema, document: DocumentNode): string[] {
  const names = new Set<string>();
  const typeInfo = new TypeInfo(schema);
  visit(
    document,
    visitWithTypeInfo(typeInfo, {
      Field(node) {
        if (typeof typeInfo.getFieldDef()?.extensions.complexity !== 'function') return;
        for (const argument of node.arguments ?? []) {
          visit(argument, { Variable: (variable) => void names.add(variable.name.value) });
        }
      },
    }),
  );
  return [...names].sort();
}

/** The variables and operation name of the operation being validated, from yoga's initial context. */
function requestParams(context: unknown): { variables: Record<string, unknown>; operationName?: string } {
  // Yoga puts the request's GraphQL params in the initial context; the WebSocket transport passes
  // each operation's payload the same way.
  const params = (context as { params?: { variables?: unknown; operationName?: unknown } }).params;
  const variables = params?.variables;
  return {
    variables: typeof variables === 'object' && variables !== null ? (variables as Record<string, unknown>) : {},
    operationName: typeof params?.operationName === 'string' ? params.operationName : undefined,
  };
}

/**
 * Refuses `__schema` and `__type` (not `__typename`) with graphql's own rule. Yoga's
 * plugin-disable-introspection is not used: it flags the HTTP request in `onRequestParse`, a hook
 * the WebSocket transport never calls, so over a socket introspection would still be answered.
 */
function disableIntrospection(): Plugin {
  return {
    onValidate({ addValidationRule }) {
      addValidationRule(NoSchemaIntrospectionCustomRule);
    },
  };
}

/** graphql-js's hint after an unknown field, argument, type or enum value: "Did you mean ...?". */
const SUGGESTION = /\s*Did you mean [^?]*\?/g;

/**
 * Drops graphql-js's "Did you mean ...?" hints, which spell out the schema that production keeps
 * to itself (introspection is off there). They come from validation (a misspelt field) and, for
 * enum values in variables, from execution before any resolver runs. (GraphQL Armor's
 * block-field-suggestions catches only the first shape, not "Did you mean the enum value ...?".)
 */
function hideSuggestions(): Plugin {
  const clean = (error: GraphQLError) => {
    error.message = error.message.replace(SUGGESTION, '');
    return error;
  };
  const cleanResult = ({ result }: { result: ExecutionResult | AsyncIterable<ExecutionResult> }) => {
    if ('errors' in result) result.errors?.forEach(clean);
  };
  return {
    onValidate:
      () =>
      ({ valid, result }) => {
        if (!valid) result.forEach((error) => error instanceof GraphQLError && clean(error));
      },
    onExecute: () => ({ onExecuteDone: cleanResult }),
    onSubscribe: () => ({ onSubscribeResult: cleanResult }),
  };
}

/**
 * A document nested deeper than graphql-js's recursive parser can follow (about 2,500 levels; the
 * token limit keeps them out unless it is off) overflows the stack: that is the client's document
 * being too complex, not a server error, and says so instead of "Maximum call stack size exceeded".
 */
function parseFailures(): Plugin {
  return {
    onParse({ parseFn, setParseFn }) {
      setParseFn((source, options): DocumentNode => {
        try {
          return parseFn(source, options) as DocumentNode;
        } catch (error) {
          if (!(error instanceof RangeError)) throw error;
          throw queryTooComplex('MAX_QUERY_TOKENS', 'The document is nested too deeply to be read.');
        }
      });
    },
  };
}
