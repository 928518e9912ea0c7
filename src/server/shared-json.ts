import type { ExecutionResult } from 'graphql';

// One result is often sent to many sockets (subscribers of one event share it: see
// modules/realtime/shared-results.ts), but graphql-ws serialises every message itself, payload
// and all. So the socket hands graphql-ws a placeholder payload that serialises to a unique
// marker, and when exactly the frame graphql-ws then makes comes to the socket's send, it sends
// the same frame with the result's JSON, serialised once for everyone, in place of the marker.
// Only an exact match is replaced, so nothing a client chooses (an operation id) can steer it.
//
// The result is encoded as UTF-8 once, too: each socket's frame is a copy of those bytes inside
// its own few bytes of envelope. A frame handed to `ws` as a string is flattened, measured and
// encoded again for every socket.

const serialised = new WeakMap<ExecutionResult, Buffer>();
let markers = 0;

/** A `next` frame whose payload is serialised once per result, however many sockets send it. */
export interface SharedFrame {
  /** What graphql-ws gets as the payload; it serialises to a marker no other payload has. */
  placeholder: { toJSON(): string };
  /** The frame graphql-ws will make with the placeholder. */
  expected: string;
  /** The frame to send instead, as UTF-8: the same, with the result in the marker's place. */
  actual: Buffer;
  /** The result it carries, for whoever counts what is sent. */
  result: ExecutionResult;
}

export function sharedFrame(id: string, result: ExecutionResult): SharedFrame {
  const marker = `shared-result-${++markers}`;
  return {
    placeholder: { toJSON: () => marker },
    expected: JSON.stringify({ id, type: 'next', payload: marker }),
    actual: resultFrame(id, result),
    result,
  };
}

/**
 * The `next` frame of operation `id` carrying `result`, as graphql-ws would make it, in UTF-8; the
 * result is serialised once however many operations send it.
 */
export function resultFrame(id: string, result: ExecutionResult): Buffer {
  let json = serialised.get(result);
  if (json === undefined) serialised.set(result, (json = Buffer.from(JSON.stringify(result))));
  return nextFrame(id, json);
}

/** `{"id":<id>,"type":"next","payload":<payload>}`, in one buffer. */
function nextFrame(id: string, payload: Buffer): Buffer {
  const head = `{"id":${JSON.stringify(id)},"type":"next","payload":`;
  const headLength = Buffer.byteLength(head);
  const frame = Buffer.allocUnsafe(headLength + payload.length + 1);
  frame.write(head, 0);
  payload.copy(frame, headLength);
  frame[frame.length - 1] = 0x7d; // }
  return frame;
}
