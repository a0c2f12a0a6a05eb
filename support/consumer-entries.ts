import { Observable, of, tap, timer } from 'rxjs';
import { consumeStream } from '../lib';
import type { ConsumeStreamConfig, OwnedStreamInfo, RedisStreamClient, StreamEntry } from '../lib';
import { EventBody, about } from './protocol';
import type { ConsumerConfig } from './protocol';

/** The field of an entry that marks the last one of its stream (`until`). */
export const END_FIELD = 'type';
export const END_VALUE = 'end';
/** An entry with this field set is dead-lettered by the handler (`ctx.deadLetter`). */
export const POISON_FIELD = 'poison';

/**
 * WORK=entries: the work on one owned stream is `consumeStream` over its data stream; each entry
 * a timer of `entryMs` (or nothing), then an `entry` line; each commit a `committed` line (events
 * report); the stream is done after the entry with `type: end`.
 */
export const consumeEntries = (
  client: RedisStreamClient,
  stream: OwnedStreamInfo,
  config: ConsumerConfig,
  emit: (body: EventBody) => void,
  events: boolean,
): Observable<string> => {
  const entryMs = config.entryMs ?? 0;
  const fields = about(stream.payload);
  const commitEvery =
    config.commitEntries === undefined && config.commitMs === undefined
      ? undefined
      : { ...(config.commitEntries === undefined ? {} : { entries: config.commitEntries }), ...(config.commitMs === undefined ? {} : { ms: config.commitMs }) };
  const options: ConsumeStreamConfig = { until: (e: StreamEntry) => e.fields[END_FIELD] === END_VALUE, ...(commitEvery === undefined ? {} : { commitEvery }) };
  return consumeStream(
    client,
    stream,
    (entry, ctx) => {
      const done = (): void => {
        if (events) emit({ event: 'entry', ...fields, entry: entry.id, fence: ctx.fence, n: entry.fields.n, t: entry.fields.t });
      };
      if (entry.fields[POISON_FIELD] !== undefined) {
        done();
        return ctx.deadLetter(entry.fields[POISON_FIELD]!);
      }
      return (entryMs > 0 ? timer(entryMs) : of(0)).pipe(tap({ complete: done }));
    },
    options,
  ).pipe(tap((id) => events && emit({ event: 'committed', ...fields, entry: id })));
};
