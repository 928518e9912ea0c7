import type { Plugin } from '@envelop/core';
import {
  getArgumentValues,
  getNamedType,
  getOperationAST,
  getVariableValues,
  isCompositeType,
  isInputObjectType,
  isListType,
  isNonNullType,
  isObjectType,
  isInterfaceType,
  Kind,
  type ExecutionArgs,
  type FragmentDefinitionNode,
  type GraphQLCompositeType,
  type GraphQLError,
  type GraphQLInputType,
  type SelectionSetNode,
} from 'graphql';
import { badUserInput } from './errors';

/**
 * Refuses an operation whose input holds text PostgreSQL cannot store, or that is not text at all:
 * a NUL character (PostgreSQL's `text` has no room for one, and the write fails deep in the
 * driver), or half of a UTF-16 surrogate pair (not Unicode; the driver would quietly store U+FFFD
 * instead). Answered as BAD_USER_INPUT naming the field, before any resolver runs.
 *
 * It checks the argument values as graphql-js coerces them for execution, so variables and inline
 * literals, defaults, fragments and nested fields (`comments(after: ...)`) are all covered, and each
 * string is named by its place in the input: `title` in a mutation's `input` (whose fields the
 * mutations name bare), `filter.search`, `ids[2]`. Runs for HTTP and WebSocket alike (onExecute
 * and onSubscribe). An operation whose variables do not coerce is left for execution to refuse.
 */
export function useInputHygiene(): Plugin {
  return {
    onExecute({ args, setResultAndStopExecution }) {
      const error = findUnstorableText(args);
      if (error !== undefined) setResultAndStopExecution({ errors: [error] });
    },
    onSubscribe({ args, setResultAndStopExecution }) {
      const error = findUnstorableText(args);
      if (error !== undefined) setResultAndStopExecution({ errors: [error] });
    },
  };
}

type Path = readonly (string | number)[];

/** The first string in the operation's arguments that is not storable text, as BAD_USER_INPUT. */
function findUnstorableText(args: ExecutionArgs): GraphQLError | undefined {
  const { schema, document } = args;
  const operation = getOperationAST(document, args.operationName);
  if (operation == null) return undefined;
  const variables = getVariableValues(schema, operation.variableDefinitions ?? [], args.variableValues ?? {}, {
    maxErrors: 1,
  });
  if (variables.errors !== undefined) return undefined;
  const coercedVariables = variables.coerced;

  const fragments = new Map<string, FragmentDefinitionNode>();
  for (const definition of document.definitions) {
    if (definition.kind === Kind.FRAGMENT_DEFINITION) fragments.set(definition.name.value, definition);
  }
  const visitedFragments = new Set<string>();

  const inSelections = (selectionSet: SelectionSetNode, parentType: GraphQLCompositeType): GraphQLError | undefined => {
    for (const selection of selectionSet.selections) {
      let found: GraphQLError | undefined;
      if (selection.kind === Kind.FIELD) {
        const field =
          isObjectType(parentType) || isInterfaceType(parentType)
            ? parentType.getFields()[selection.name.value]
            : undefined;
        if (field === undefined) continue; // __typename and introspection
        let values: Record<string, unknown>;
        try {
          values = getArgumentValues(field, selection, coercedVariables);
        } catch {
          continue; // a missing or invalid argument: execution reports it
        }
        for (const arg of field.args) {
          found ??= inValue(values[arg.name], arg.type, [arg.name]);
        }
        const fieldType = getNamedType(field.type);
        if (found === undefined && selection.selectionSet !== undefined && isCompositeType(fieldType)) {
          found = inSelections(selection.selectionSet, fieldType);
        }
      } else if (selection.kind === Kind.INLINE_FRAGMENT) {
        const type = selection.typeCondition ? schema.getType(selection.typeCondition.name.value) : parentType;
        if (isCompositeType(type)) found = inSelections(selection.selectionSet, type);
      } else {
        const fragment = fragments.get(selection.name.value);
        if (fragment === undefined || visitedFragments.has(fragment.name.value)) continue;
        visitedFragments.add(fragment.name.value);
        const type = schema.getType(fragment.typeCondition.name.value);
        if (isCompositeType(type)) found = inSelections(fragment.selectionSet, type);
      }
      if (found !== undefined) return found;
    }
    return undefined;
  };

  const rootType = schema.getRootType(operation.operation);
  return rootType == null ? undefined : inSelections(operation.selectionSet, rootType);
}

/** Walks a coerced input value along its type: lists and input objects down to the strings. */
function inValue(value: unknown, type: GraphQLInputType, path: Path): GraphQLError | undefined {
  if (value == null) return undefined;
  if (isNonNullType(type)) return inValue(value, type.ofType, path);
  if (isListType(type)) {
    if (!Array.isArray(value)) return undefined;
    for (const [index, item] of value.entries()) {
      const found = inValue(item, type.ofType, [...path, index]);
      if (found !== undefined) return found;
    }
    return undefined;
  }
  if (isInputObjectType(type)) {
    for (const field of Object.values(type.getFields())) {
      const found = inValue((value as Record<string, unknown>)[field.name], field.type, [...path, field.name]);
      if (found !== undefined) return found;
    }
    return undefined;
  }
  if (typeof value !== 'string') return undefined;
  if (value.includes('\u0000')) {
    const field = fieldName(path);
    return badUserInput(field, `${field} must not contain NUL (U+0000) characters.`);
  }
  // With the `u` flag a well-formed surrogate pair is one code point; only a lone half is \p{Cs}.
  if (/\p{Cs}/u.test(value)) {
    const field = fieldName(path);
    return badUserInput(field, `${field} is not valid Unicode text: it holds half of a surrogate pair.`);
  }
  return undefined;
}

/** `filter.search`, `ids[2]`; a mutation's `input.` is left out, as the mutations name their fields. */
function fieldName(path: Path): string {
  const named = path.length > 1 && path[0] === 'input' ? path.slice(1) : path;
  return named
    .map((part, index) => (typeof part === 'number' ? `[${part}]` : index === 0 ? part : `.${part}`))
    .join('');
}
