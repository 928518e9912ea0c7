// The operations of the query-path benchmark (bench/queries.ts), shared with the hand-written
// server (bench/handwritten-server.ts), which answers exactly these documents and nothing else.

/** Issue 12's screen: 20 bugs with their project, people and first five comments. */
export const SCREEN = /* GraphQL */ `
  query BenchScreen {
    bugs(first: 20) {
      edges {
        node {
          key
          title
          status
          project {
            name
          }
          reporter {
            name
          }
          assignee {
            name
          }
          comments(first: 5) {
            edges {
              node {
                body
                author {
                  name
                }
              }
            }
          }
        }
      }
    }
  }
`;

/** One bug's page: the bug, its people and its first 20 comments with their dates. */
export const BUG = /* GraphQL */ `
  query BenchBug($id: ID!) {
    bug(id: $id) {
      key
      title
      description
      status
      priority
      project {
        key
        name
      }
      reporter {
        name
      }
      assignee {
        name
      }
      comments(first: 20) {
        edges {
          node {
            body
            createdAt
            author {
              name
            }
          }
        }
      }
    }
  }
`;

/**
 * The smallest signed-in query: the viewer's own name, one row by its key. What both servers spend
 * on it is their cost per request before any real work (HTTP, the token, GraphQL, one statement).
 */
export const ME = /* GraphQL */ `
  query BenchViewer {
    me {
      name
    }
  }
`;
