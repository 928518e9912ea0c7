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

// --- Watching, the inbox and history (issue 10) -----------------------------------------------

export const WatchBug = graphql(`
  mutation WatchBug($input: WatchBugInput!) {
    watchBug(input: $input) {
      bug {
        id
        viewerIsWatching
      }
    }
  }
`);

export const UnwatchBug = graphql(`
  mutation UnwatchBug($input: UnwatchBugInput!) {
    unwatchBug(input: $input) {
      bug {
        id
        viewerIsWatching
      }
    }
  }
`);

export const BugWatchers = graphql(`
  query BugWatchers($id: ID!, $first: Int, $after: String) {
    bug(id: $id) {
      viewerIsWatching
      watchers(first: $first, after: $after) {
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
  }
`);

export const BugActivity = graphql(`
  query BugActivity($id: ID!, $first: Int, $after: String) {
    bug(id: $id) {
      activity(first: $first, after: $after) {
        edges {
          cursor
          node {
            kind
            occurredAt
            actor {
              id
              name
            }
            changes {
              field
              from
              to
            }
            comment {
              id
              body
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

export const NotificationFields = graphql(`
  fragment NotificationFields on Notification {
    id
    cursor
    kind
    message
    readAt
    occurredAt
    bug {
      id
    }
    comment {
      id
      body
    }
    actor {
      id
    }
  }
`);

export const Notifications = graphql(`
  query Notifications($first: Int, $after: String, $unreadOnly: Boolean) {
    unreadNotificationCount
    notifications(first: $first, after: $after, unreadOnly: $unreadOnly) {
      totalCount
      edges {
        cursor
        node {
          ...NotificationFields
        }
      }
      pageInfo {
        hasNextPage
        endCursor
      }
    }
  }
`);

export const UnreadNotificationCount = graphql(`
  query UnreadNotificationCount {
    unreadNotificationCount
  }
`);

export const InboxPage = graphql(`
  query InboxPage($first: Int) {
    notifications(first: $first) {
      edges {
        node {
          id
          kind
          message
          readAt
          occurredAt
        }
      }
    }
  }
`);

export const MarkNotificationsRead = graphql(`
  mutation MarkNotificationsRead($input: MarkNotificationsReadInput!) {
    markNotificationsRead(input: $input) {
      unreadCount
      notifications {
        id
        readAt
      }
    }
  }
`);

export const NotificationNode = graphql(`
  query NotificationNode($id: ID!) {
    node(id: $id) {
      id
      __typename
      ... on Notification {
        message
      }
    }
  }
`);

export const OnInbox = graphql(`
  subscription OnInbox($after: String) {
    notifications(after: $after) {
      ...NotificationFields
    }
  }
`);

export const OnNotificationsRead = graphql(`
  subscription OnNotificationsRead($after: String) {
    notificationsRead(after: $after) {
      cursor
      all
      unreadCount
      notifications {
        id
        readAt
      }
    }
  }
`);

export const OnBugChanges = graphql(`
  subscription OnBugChanges($projectId: ID, $after: String) {
    bugChanged(projectId: $projectId, after: $after) {
      action
      bug {
        id
      }
      changes {
        field
        from
        to
      }
    }
  }
`);

export const BugsWithWatchersAndHistory = graphql(`
  query BugsWithWatchersAndHistory($first: Int) {
    bugs(first: $first) {
      edges {
        node {
          key
          viewerIsWatching
          watchers(first: 5) {
            edges {
              node {
                name
              }
            }
          }
          activity(first: 5) {
            edges {
              node {
                kind
                actor {
                  name
                }
                changes {
                  field
                  to
                }
                comment {
                  body
                }
              }
            }
          }
        }
      }
    }
  }
`);

export const NotificationsWithEverything = graphql(`
  query NotificationsWithEverything($first: Int) {
    notifications(first: $first) {
      edges {
        node {
          kind
          message
          actor {
            name
          }
          bug {
            key
            assignee {
              name
            }
          }
          comment {
            body
            author {
              name
            }
          }
        }
      }
    }
  }
`);

// --- Labels and keys (issue 11) -----------------------------------------------------------------

export const LabelFields = graphql(`
  fragment LabelFields on Label {
    id
    name
    color
    description
    project {
      id
    }
  }
`);

export const CreateLabel = graphql(`
  mutation CreateLabel($input: CreateLabelInput!) {
    createLabel(input: $input) {
      label {
        ...LabelFields
      }
    }
  }
`);

export const UpdateLabel = graphql(`
  mutation UpdateLabel($input: UpdateLabelInput!) {
    updateLabel(input: $input) {
      label {
        ...LabelFields
      }
    }
  }
`);

export const DeleteLabel = graphql(`
  mutation DeleteLabel($input: DeleteLabelInput!) {
    deleteLabel(input: $input) {
      deletedLabelId
      project {
        id
        labels {
          id
        }
      }
    }
  }
`);

export const SetBugLabels = graphql(`
  mutation SetBugLabels($input: SetBugLabelsInput!) {
    setBugLabels(input: $input) {
      bug {
        id
        labels {
          id
          name
        }
      }
    }
  }
`);

export const ProjectLabels = graphql(`
  query ProjectLabels($id: ID!) {
    project(id: $id) {
      labels {
        ...LabelFields
      }
    }
  }
`);

export const BugLabels = graphql(`
  query BugLabels($id: ID!) {
    bug(id: $id) {
      labels {
        id
        name
        color
      }
    }
  }
`);

export const BugByKey = graphql(`
  query BugByKey($id: ID, $key: String) {
    bug(id: $id, key: $key) {
      id
      key
      title
    }
  }
`);

export const ProjectByKey = graphql(`
  query ProjectByKey($id: ID, $key: String) {
    project(id: $id, key: $key) {
      id
      key
    }
  }
`);

export const BugsWithLabels = graphql(`
  query BugsWithLabels($first: Int, $filter: BugFilter) {
    bugs(first: $first, filter: $filter) {
      edges {
        node {
          key
          labels {
            name
          }
        }
      }
    }
  }
`);

export const OutsideOnBugChanged = graphql(`
  subscription OutsideOnBugChanged($projectId: ID, $after: String) {
    bugChanged(projectId: $projectId, after: $after) {
      action
      actor {
        id
      }
      changes {
        field
        from
        to
      }
      bug {
        id
        title
      }
    }
  }
`);

export const OutsideHistory = graphql(`
  query OutsideHistory($id: ID!) {
    bug(id: $id) {
      activity(first: 100) {
        edges {
          node {
            kind
            actor {
              id
            }
            changes {
              field
              from
              to
            }
            comment {
              body
            }
          }
        }
      }
    }
  }
`);
