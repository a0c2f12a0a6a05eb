import { Observable, throwError } from 'rxjs';
import type { OwnedStreamInfo } from '../operators/process-streams';
import type { ConsumeStreamConfig, EntryHandler } from './types';

/**
 * Reads the entries of every stream one client owns, over one shared blocking connection, and
 * commits their positions in batched, fenced script calls.
 */
export class EntryEngine {
  consume(stream: OwnedStreamInfo, _handler: EntryHandler, _config: ConsumeStreamConfig): Observable<string> {
    return throwError(() => new Error(`consumeStream of "${stream.payload.dataStreamName}" is not available yet`));
  }

  /**
   * @internal The rebalancer's seam: makes the running `consumeStream` of that stream stop right
   * after its next commit (flushed first), so that `processStreams` reports `Rebalanced` and
   * releases the stream. False when no `consumeStream` runs for it.
   */
  handBack(_streamName: string): boolean {
    return false;
  }

  /** @internal True while a `consumeStream` runs for that stream. */
  isConsuming(_streamName: string): boolean {
    return false;
  }
}
