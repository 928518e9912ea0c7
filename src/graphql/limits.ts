// Scaffold: filled in by the operation-limit work.
import type { Plugin } from '@envelop/core';
import type { Config } from '../config';

export function operationLimits(_config: Config): Plugin[] {
  return [];
}
