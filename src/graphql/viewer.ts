import {
  getNamedType,
  isInterfaceType,
  isObjectType,
  Kind,
  type DocumentNode,
  type FragmentDefinitionNode,
  type GraphQLField,
  type GraphQLNamedType,
  type GraphQLSchema,
  type SelectionSetNode,
} from 'graphql';

/**
 * Whether a field's value, given its parent, is the same for everyone allowed to see the parent
 * (`shared`) or depends on who asks (`personal`). Declared where types and fields are defined, as
 * `extensions`: a type's declaration covers its fields, a field's own overrides it. Subscriptions
 * use it to compute one result for every viewer of an event when nothing they select is personal.
 */
export type ViewerDependence = 'shared' | 'personal';

/** `extensions` of a type or field whose value is the same for everyone who may see its parent. */
export const SHARED = { viewer: 'shared' } as const satisfies { viewer: ViewerDependence };
/** `extensions` of a type or field whose value depends on who is looking. */
export const PERSONAL = { viewer: 'personal' } as const satisfies { viewer: ViewerDependence };

type Parent = { extensions: { readonly [key: string]: unknown } };

/** A field's declared dependence on the viewer: its own, else its type's; undefined when neither says. */
export function viewerDependence(field: GraphQLField<unknown, unknown>, parent: Parent): ViewerDependence | undefined {
  const declared = field.extensions.viewer ?? parent.extensions.viewer;
  return declared === 'shared' || declared === 'personal' ? declared : undefined;
}

const memo = new WeakMap<DocumentNode, Map<string, boolean>>();

/**
 * Whether two viewers who may both see an operation's root value could get different results for
 * it: true as soon as it selects one personal (or undeclared) field. Memoised per document.
 */
export function dependsOnViewer(schema: GraphQLSchema, document: DocumentNode, operationName?: string | null): boolean {
  let byOperation = memo.get(document);
  if (byOperation === undefined) memo.set(document, (byOperation = new Map<string, boolean>()));
  const key = operationName ?? '';
  let answer = byOperation.get(key);
  if (answer === undefined) byOperation.set(key, (answer = analyse(schema, document, operationName)));
  return answer;
}

function analyse(schema: GraphQLSchema, document: DocumentNode, operationName?: string | null): boolean {
  const fragments = new Map<string, FragmentDefinitionNode>();
  for (const definition of document.definitions) {
    if (definition.kind === Kind.FRAGMENT_DEFINITION) fragments.set(definition.name.value, definition);
  }
  const operation = document.definitions.find(
    (definition) =>
      definition.kind === Kind.OPERATION_DEFINITION &&
      (operationName == null || definition.name?.value === operationName),
  );
  if (operation?.kind !== Kind.OPERATION_DEFINITION) return true;
  const root = schema.getRootType(operation.operation);
  if (root === undefined || root === null) return true;

  const visited = new Set<string>();
  const personal = (type: GraphQLNamedType | undefined | null, selectionSet: SelectionSetNode): boolean => {
    if (!isObjectType(type) && !isInterfaceType(type)) return true;
    for (const selection of selectionSet.selections) {
      if (selection.kind === Kind.FIELD) {
        if (selection.name.value === '__typename') continue;
        const field = type.getFields()[selection.name.value];
        if (field === undefined || viewerDependence(field, type) !== 'shared') return true;
        if (selection.selectionSet !== undefined && personal(getNamedType(field.type), selection.selectionSet))
          return true;
      } else if (selection.kind === Kind.INLINE_FRAGMENT) {
        const condition =
          selection.typeCondition === undefined ? type : schema.getType(selection.typeCondition.name.value);
        if (personal(condition, selection.selectionSet)) return true;
      } else {
        const fragment = fragments.get(selection.name.value);
        if (fragment === undefined) return true;
        // A fragment spread twice under the same type says the same the second time.
        const seen = `${fragment.name.value}@${type.name}`;
        if (visited.has(seen)) continue;
        visited.add(seen);
        if (personal(schema.getType(fragment.typeCondition.name.value), fragment.selectionSet)) return true;
      }
    }
    return false;
  };
  return personal(root, operation.selectionSet);
}
