// Every operation the suites send. `npm run codegen` turns each into a typed document (test/gql).
import { graphql } from './gql';

export const SignUp = graphql(`
  mutation SignUp($input: SignUpInput!) {
    signUp(input: $input) {
      token
      user {
        id
        email
        name
        role
        status
      }
    }
  }
`);

export const LogIn = graphql(`
  mutation LogIn($input: LogInInput!) {
    logIn(input: $input) {
      token
      user {
        id
        email
      }
    }
  }
`);

export const Me = graphql(`
  query Me {
    me {
      id
      email
      name
      role
      status
    }
  }
`);

export const Users = graphql(`
  query Users($first: Int, $after: String) {
    users(first: $first, after: $after) {
      totalCount
      edges {
        cursor
        node {
          id
          name
        }
      }
      pageInfo {
        hasNextPage
        endCursor
      }
    }
  }
`);

export const UpdateUserStatus = graphql(`
  mutation UpdateUserStatus($input: UpdateUserStatusInput!) {
    updateUserStatus(input: $input) {
      user {
        id
        status
      }
    }
  }
`);

export const CreateProject = graphql(`
  mutation CreateProject($input: CreateProjectInput!) {
    createProject(input: $input) {
      project {
        id
        key
        name
        description
        owner {
          id
        }
        members {
          id
        }
      }
    }
  }
`);

export const UpdateProject = graphql(`
  mutation UpdateProject($input: UpdateProjectInput!) {
    updateProject(input: $input) {
      project {
        id
        name
        description
      }
    }
  }
`);

export const AddProjectMember = graphql(`
  mutation AddProjectMember($input: AddProjectMemberInput!) {
    addProjectMember(input: $input) {
      project {
        id
        members {
          id
        }
      }
    }
  }
`);

export const RemoveProjectMember = graphql(`
  mutation RemoveProjectMember($input: RemoveProjectMemberInput!) {
    removeProjectMember(input: $input) {
      project {
        id
        members {
          id
        }
      }
    }
  }
`);

export const Project = graphql(`
  query Project($id: ID!) {
    project(id: $id) {
      id
      key
      name
      owner {
        id
      }
      members {
        id
      }
      bugs(first: 50) {
        totalCount
        edges {
          node {
            id
            key
          }
        }
      }
    }
  }
`);

export const Projects = graphql(`
  query Projects($first: Int, $after: String) {
    projects(first: $first, after: $after) {
      totalCount
      edges {
        node {
          id
          key
        }
      }
      pageInfo {
        hasNextPage
        endCursor
      }
    }
  }
`);

export const ProjectBugs = graphql(`
  query ProjectBugs($id: ID!, $filter: BugFilter, $first: Int) {
    project(id: $id) {
      bugs(first: $first, filter: $filter) {
        totalCount
        edges {
          node {
            key
          }
        }
      }
    }
  }
`);

export const Node = graphql(`
  query Node($id: ID!) {
    node(id: $id) {
      id
      __typename
      ... on Bug {
        key
      }
      ... on Project {
        key
      }
      ... on User {
        name
      }
      ... on Comment {
        body
      }
    }
  }
`);

export const BugFields = graphql(`
  fragment BugFields on Bug {
    id
    key
    number
    title
    description
    status
    priority
    closedAt
    createdAt
    updatedAt
    project {
      id
      key
    }
    reporter {
      id
    }
    assignee {
      id
    }
  }
`);

export const CreateBug = graphql(`
  mutation CreateBug($input: CreateBugInput!) {
    createBug(input: $input) {
      bug {
        ...BugFields
      }
    }
  }
`);

export const UpdateBug = graphql(`
  mutation UpdateBug($input: UpdateBugInput!) {
    updateBug(input: $input) {
      bug {
        ...BugFields
      }
    }
  }
`);

export const UpdateBugStatus = graphql(`
  mutation UpdateBugStatus($input: UpdateBugStatusInput!) {
    updateBugStatus(input: $input) {
      bug {
        ...BugFields
      }
    }
  }
`);

export const AssignBug = graphql(`
  mutation AssignBug($input: AssignBugInput!) {
    assignBug(input: $input) {
      bug {
        ...BugFields
      }
    }
  }
`);

export const AddComment = graphql(`
  mutation AddComment($input: AddCommentInput!) {
    addComment(input: $input) {
      comment {
        id
        body
        author {
          id
        }
        bug {
          id
        }
      }
    }
  }
`);

export const Bug = graphql(`
  query Bug($id: ID!, $commentsFirst: Int, $commentsAfter: String) {
    bug(id: $id) {
      ...BugFields
      comments(first: $commentsFirst, after: $commentsAfter) {
        totalCount
        edges {
          cursor
          node {
            id
            body
            author {
              id
            }
          }
        }
        pageInfo {
          hasNextPage
          endCursor
        }
      }
    }
  }
`);

export const Bugs = graphql(`
  query Bugs($first: Int, $after: String, $filter: BugFilter, $orderBy: BugOrder) {
    bugs(first: $first, after: $after, filter: $filter, orderBy: $orderBy) {
      totalCount
      edges {
        cursor
        node {
          id
          key
          title
          priority
          status
        }
      }
      pageInfo {
        hasNextPage
        endCursor
      }
    }
  }
`);

export const BugsWithEverything = graphql(`
  query BugsWithEverything($first: Int) {
    bugs(first: $first) {
      edges {
        node {
          key
          title
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
`);

export const ProjectsWithEverything = graphql(`
  query ProjectsWithEverything($first: Int) {
    projects(first: $first) {
      edges {
        node {
          key
          owner {
            name
          }
          members {
            name
          }
          bugs(first: 5) {
            totalCount
            edges {
              node {
                title
                assignee {
                  name
                }
                comments(first: 3) {
                  totalCount
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
      }
    }
    users(first: $first) {
      edges {
        node {
          name
        }
      }
    }
  }
`);

// --- Real time ----------------------------------------------------------------------------------

export const EventCursor = graphql(`
  query EventCursor {
    eventCursor
  }
`);

export const OnBugAssigned = graphql(`
  subscription OnBugAssigned($after: String) {
    bugAssigned(after: $after) {
      cursor
      bug {
        id
        title
        assignee {
          id
        }
      }
      assignedBy {
        id
      }
    }
  }
`);

export const OnCommentAdded = graphql(`
  subscription OnCommentAdded($bugId: ID!, $after: String) {
    commentAdded(bugId: $bugId, after: $after) {
      cursor
      comment {
        id
        body
        author {
          id
        }
        bug {
          id
        }
      }
    }
  }
`);

export const OnUserStatusChanged = graphql(`
  subscription OnUserStatusChanged($after: String) {
    userStatusChanged(after: $after) {
      cursor
      user {
        id
      }
      previousStatus
      status
    }
  }
`);

export const OnBugChanged = graphql(`
  subscription OnBugChanged($projectId: ID, $after: String) {
    bugChanged(projectId: $projectId, after: $after) {
      cursor
      action
      bug {
        id
        title
        status
        project {
          id
        }
      }
      actor {
        id
      }
    }
  }
`);

export const OnProjectChanged = graphql(`
  subscription OnProjectChanged($after: String) {
    projectChanged(after: $after) {
      cursor
      action
      projectId
      project {
        id
        name
      }
      actor {
        id
      }
      member {
        id
      }
    }
  }
`);

export const OnNotification = graphql(`
  subscription OnNotification($after: String) {
    notifications(after: $after) {
      cursor
      kind
      message
      bug {
        id
      }
      comment {
        id
        body
      }
    }
  }
`);
