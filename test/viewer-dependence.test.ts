import { getNamedType, isInterfaceType, isObjectType, parse } from 'graphql';
import { schema } from '../src/graphql/schema';
import { dependsOnViewer, viewerDependence } from '../src/graphql/viewer';

describe('which fields depend on the viewer', () => {
  it('is declared for every field of every type in the schema', () => {
    const undeclared: string[] = [];
    for (const type of Object.values(schema.getTypeMap())) {
      if (type.name.startsWith('__') || !(isObjectType(type) || isInterfaceType(type))) continue;
      for (const field of Object.values(type.getFields())) {
        if (viewerDependence(field, type) === undefined) undeclared.push(`${type.name}.${field.name}`);
      }
    }
    expect(undeclared).toEqual([]);
  });

  it('marks what answers differently for different viewers as personal', () => {
    const personal = (type: string, field: string) => {
      const parent = schema.getType(type);
      if (!isObjectType(parent)) throw new Error(`${type} is not an object type`);
      return viewerDependence(parent.getFields()[field]!, parent);
    };
    // Root fields answer for the viewer; a removed member gets `project: null` in their own event.
    expect(personal('Query', 'bugs')).toBe('personal');
    expect(personal('Query', 'me')).toBe('personal');
    expect(personal('AuthPayload', 'token')).toBe('personal');
    expect(personal('ProjectChangedEvent', 'project')).toBe('personal');
    expect(getNamedType(schema.getQueryType()!.getFields().bugs!.type).extensions.viewer).toBe('personal');
    expect(personal('Bug', 'title')).toBe('shared');
  });

  it('finds a personal field anywhere in a subscription, fragments included', () => {
    const shared = parse(
      `subscription { bugChanged { action bug { title comments(first: 5) { edges { node { body } } } } } }`,
    );
    const removal = parse(
      `subscription { projectChanged { ...Change } } fragment Change on ProjectChangedEvent { project { name } }`,
    );
    const inline = parse(`subscription { projectChanged { ... on ProjectChangedEvent { projectId } } }`);
    expect(dependsOnViewer(schema, shared)).toBe(false);
    expect(dependsOnViewer(schema, removal)).toBe(true);
    expect(dependsOnViewer(schema, inline)).toBe(false);
  });
});
