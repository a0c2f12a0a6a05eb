import { Observable } from 'rxjs';
import type { OwnedStreamInfo } from '../operators/process-streams';
import type { EntryEngine } from './engine';
import type { ConsumeStreamConfig, EntryHandler } from './types';

/**
 * What `consumeStream` needs of a client: a `RedisStreamClient` fits.
 * @example
 * const reader: EntryReader = client; // a RedisStreamClient is one
 * consumeStream(reader, stream, handle).subscribe();
 */
export interface EntryReader {
  /** @internal the engine that reads the entries of every stream this client owns. */
  readonly entryEngine: EntryEngine;
}

/**
 * Reads the data stream of an owned stream from just after its committed position (from the
 * start when nothing was committed), runs `handler(entry, ctx)` for each entry in stream order,
 * one at a time, and commits the position (fenced: only while this consumer holds the lock).
 * Emits the id of each entry once handled and committed. When the stream is drained it waits for
 * new entries; it completes after the entry for which `config.until(entry)` is true has been
 * handled and committed. Errors with `NotOwnerError` when a commit is refused (another consumer
 * took the stream), with the handler's error when the handler fails (after committing the entries
 * handled before), and with `DataStreamTypeError` when the key is not a stream.
 *
 * ## Example
 * ```ts
 * client.init().pipe(
 *   claimExpired(client),
 *   processStreams(client, (stream) =>
 *     consumeStream(client, stream, (entry, ctx) => save(entry, ctx.fence), {
 *       until: (entry) => entry.fields.type === 'end',
 *     }),
 *     { concurrency: 1000 },
 *   ),
 * ).subscribe();
 * ```
 *
 * @param client the client that owns the stream
 * @param stream the owned stream (from `StreamAdded` / `StreamClaimed`, or what `processStreams` hands its handler)
 * @param handler runs once per entry; the next entry starts when its ObservableInput completes
 * @param config `until`, `commitEvery`, `readCount`
 */
export function consumeStream(client: EntryReader, stream: OwnedStreamInfo, handler: EntryHandler, config: ConsumeStreamConfig = {}): Observable<string> {
  return client.entryEngine.consume(stream, handler, config);
}
