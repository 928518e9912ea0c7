import { builder } from './builder';
import './scalars';
import '../modules/user/user';
import '../modules/project/project';
import '../modules/bug/bug';
import '../modules/comment/comment';
import '../modules/realtime/realtime';

builder.queryType({});
builder.mutationType({});

/** The whole API, types sorted so the printed schema.graphql diffs cleanly. */
export const schema = builder.toSchema({ sortSchema: true });
