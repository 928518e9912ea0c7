import { builder } from './builder';
import { PERSONAL } from './viewer';
import './scalars';
import '../modules/user/user';
import '../modules/project/project';
import '../modules/bug/bug';
import '../modules/comment/comment';
import '../modules/bug/history';
import '../modules/bug/watching';
import '../modules/inbox/inbox';
import '../modules/label/label';
import '../modules/realtime/realtime';

// Every root query and mutation answers for the viewer: what they may see, what they may do.
builder.queryType({ extensions: PERSONAL });
builder.mutationType({ extensions: PERSONAL });

/** The whole API, types sorted so the printed schema.graphql diffs cleanly. */
export const schema = builder.toSchema({ sortSchema: true });
