import { badUserInput } from './errors';

export const LIMITS = {
  title: 200,
  description: 20_000,
  commentBody: 20_000,
  projectName: 100,
  userName: 100,
  email: 254,
  passwordMin: 8,
  passwordMax: 1_024,
  pageSize: 100,
} as const;

/** Trims `value` and requires 1..`max` characters; whitespace alone counts as empty. */
export function requiredText(value: string, field: string, max: number): string {
  const text = value.trim();
  if (text === '') throw badUserInput(field, `${field} must not be empty.`);
  if (text.length > max) throw badUserInput(field, `${field} must be at most ${max} characters.`);
  return text;
}

/** Trims `value` and allows up to `max` characters, empty included. */
export function optionalText(value: string, field: string, max: number): string {
  const text = value.trim();
  if (text.length > max) throw badUserInput(field, `${field} must be at most ${max} characters.`);
  return text;
}

/** Connection page sizes: `first` defaults to 20 and may not exceed 100. */
export const pageSize = {
  defaultSize: 20,
  maxSize: (args: { first?: number | null; last?: number | null }) => {
    for (const field of ['first', 'last'] as const) {
      const size = args[field];
      if (size != null && (size < 0 || size > LIMITS.pageSize)) {
        throw badUserInput(field, `${field} must be between 0 and ${LIMITS.pageSize}.`);
      }
    }
    return LIMITS.pageSize;
  },
};
