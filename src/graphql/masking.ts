import { isAsyncIterable, type Plugin } from '@envelop/core';
import type { ExecutionResult } from 'graphql';
import { maskError } from './errors';

type Log = (message: string, error: unknown) => void;

/** The result with every error masked (see maskError); the same object when it has none. */
export function maskResult<Result extends ExecutionResult>(result: Result, log: Log): Result {
  if (result.errors === undefined || result.errors.length === 0) return result;
  return { ...result, errors: result.errors.map((error) => maskError(error, log)) };
}

/**
 * Masks every error a client receives: the context's, a query's or mutation's, a subscription's
 * setup. Unlike envelop's useMaskedErrors it does not wrap subscription streams, which would cost
 * every subscriber a step per event: their results are masked where they are made, once for all
 * the subscribers who share them (see useSharedSubscriptionResults).
 */
export function useErrorMasking(log: Log): Plugin {
  const mask = ({ result, setResult }: { result: unknown; setResult: (result: ExecutionResult) => void }) => {
    if (!isAsyncIterable(result)) setResult(maskResult(result as ExecutionResult, log));
  };
  return {
    onPluginInit: ({ registerContextErrorHandler }) =>
      registerContextErrorHandler(({ error, setError }) => setError(maskError(error, log))),
    onExecute: () => ({ onExecuteDone: mask }),
    onSubscribe: () => ({
      onSubscribeResult: mask,
      onSubscribeError: ({ error, setError }) => setError(maskError(error, log)),
    }),
  };
}
