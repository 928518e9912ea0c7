import { isAsyncIterable, type Plugin } from '@envelop/core';
import type { ExecutionResult } from 'graphql';
import { maskError } from './errors';

/**
 * Where an unexpected error goes before it is masked; `context` is the operation's (or, when
 * building it failed, what there was of it), so the line can carry the request's id.
 */
export type MaskingLog = (message: string, error: unknown, context?: Readonly<Record<string, unknown>>) => void;

/** The result with every error masked (see maskError); the same object when it has none. */
export function maskResult<Result extends ExecutionResult>(result: Result, log: MaskingLog): Result {
  if (result.errors === undefined || result.errors.length === 0) return result;
  return { ...result, errors: result.errors.map((error) => maskError(error, log)) };
}

/**
 * Masks every error a client receives: the context's, a query's or mutation's, a subscription's
 * setup. Unlike envelop's useMaskedErrors it does not wrap subscription streams, which would cost
 * every subscriber a step per event: their results are masked where they are made, once for all
 * the subscribers who share them (see useSharedSubscriptionResults).
 */
export function useErrorMasking(log: MaskingLog): Plugin {
  const logIn = (context: unknown) => (message: string, error: unknown) =>
    log(message, error, context as Readonly<Record<string, unknown>>);
  const mask =
    (context: unknown) =>
    ({ result, setResult }: { result: unknown; setResult: (result: ExecutionResult) => void }) => {
      if (!isAsyncIterable(result)) setResult(maskResult(result as ExecutionResult, logIn(context)));
    };
  return {
    onPluginInit: ({ registerContextErrorHandler }) =>
      registerContextErrorHandler(({ error, setError, context }) => setError(maskError(error, logIn(context)))),
    onExecute: ({ args }) => ({ onExecuteDone: mask(args.contextValue) }),
    // No onSubscribeError: envelop would wrap every stream in one more iterator for it. A stream's
    // own failure is masked where the stream is made (see useSharedSubscriptionResults).
    onSubscribe: ({ args }) => ({ onSubscribeResult: mask(args.contextValue) }),
  };
}
