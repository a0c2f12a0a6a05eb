import { NEVER, Observable, ignoreElements, timer } from 'rxjs';
import type { ConsumerConfig } from './protocol';

/** The simulated work of a child consumer on one stream it owns (`ConsumerConfig.work`). */
export interface Work {
  /** How long the work on this stream takes, ms; undefined when the consumer only holds the stream. */
  plan(stream: { payload: { dataStreamName: string }; additionalInfo: Record<string, unknown> }): number | undefined;
  /** The work of `workMs`: completes when it is done (doneStream follows). */
  run(workMs: number): Observable<void>;
}

/** One step of `steps` work. A step whose timer fires late (the process was stopped) does not count. */
export const STEP_MS = 250;

/** `Info.workMs` when the producer set it, else a random time in `min..max`. */
const planned = (info: Record<string, unknown>, min: number, max: number): number => {
  const fromInfo = Number(info.workMs);
  return Number.isFinite(fromInfo) && fromInfo > 0 ? fromInfo : min + Math.random() * (max - min);
};

/** Works step by step, each step a timer of STEP_MS; steps whose timer fired late are done again. */
const steps = (workMs: number): Observable<void> =>
  new Observable<void>((subscriber) => {
    let stepsLeft = workMs / STEP_MS;
    let pending: NodeJS.Timeout;
    const step = (dueAt: number): void => {
      const stalled = Date.now() - dueAt > STEP_MS;
      if (!stalled) stepsLeft--;
      if (stepsLeft <= 0) return subscriber.complete();
      const next = Date.now() + STEP_MS;
      pending = setTimeout(() => step(next), STEP_MS);
    };
    const first = Date.now() + STEP_MS;
    pending = setTimeout(() => step(first), STEP_MS);
    return () => clearTimeout(pending);
  });

/** One timer of `ms`. */
const after = (ms: number): Observable<void> => timer(ms).pipe(ignoreElements());

export const workOf = (config: ConsumerConfig): Work => {
  const min = config.workMinMs ?? 300;
  const max = config.workMaxMs ?? 2000;
  switch (config.work ?? 'none') {
    case 'none':
    case 'entries': // PROCESS=operators: consumeStream is the work (support/consumer.ts)
      return { plan: () => undefined, run: () => NEVER };
    case 'timer':
      return { plan: (s) => planned(s.additionalInfo, min, max), run: after };
    case 'steps':
      return { plan: (s) => Math.max(1, Math.round(planned(s.additionalInfo, min, max) / STEP_MS)) * STEP_MS, run: steps };
    case 'churn': {
      const prefix = config.churnPrefix ?? '';
      const holdMs = config.churnHoldMs ?? 2000;
      return { plan: (s) => (prefix !== '' && s.payload.dataStreamName.startsWith(prefix) ? Math.random() * holdMs : undefined), run: after };
    }
  }
};
