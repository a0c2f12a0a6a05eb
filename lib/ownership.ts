import { lockKey } from './redis/keys';
import type { AdditionalInfo, LbsInfo } from './types';

/** A stream this consumer owns: the LBS entry, its `Info`, its lock key and when it was taken. */
export interface OwnedStream {
  readonly payload: LbsInfo;
  readonly additionalInfo: AdditionalInfo;
  readonly lockKey: string;
  readonly since: Date;
  /** When Redis last confirmed the lock (ms, this process' clock, taken when the confirming call was sent). */
  confirmedAt: number;
}

/**
 * Which streams this consumer holds: the one place that knows. Streams are keyed by data-stream
 * name, as `doneStream(name)` addresses them.
 */
export class Ownership {
  private readonly byName = new Map<string, OwnedStream>();
  private readonly ids = new Set<string>();

  /** Records that this consumer now holds the stream (its lock is already taken). */
  take(payload: LbsInfo, additionalInfo: AdditionalInfo): OwnedStream {
    const owned: OwnedStream = {
      payload: { dataStreamName: payload.dataStreamName, idInLbs: payload.idInLbs },
      additionalInfo,
      lockKey: lockKey(payload.dataStreamName, payload.idInLbs),
      since: new Date(),
      confirmedAt: Date.now(),
    };
    const previous = this.byName.get(payload.dataStreamName);
    if (previous !== undefined) this.ids.delete(previous.payload.idInLbs);
    this.byName.set(payload.dataStreamName, owned);
    this.ids.add(payload.idInLbs);
    return owned;
  }

  get(name: string): OwnedStream | undefined {
    return this.byName.get(name);
  }

  /** True when this consumer holds exactly this LBS entry of the stream. */
  holds(name: string, idInLbs: string): boolean {
    return this.byName.get(name)?.payload.idInLbs === idInLbs;
  }

  /** True when this consumer holds the LBS entry with this id. */
  holdsId(idInLbs: string): boolean {
    return this.ids.has(idInLbs);
  }

  /** Forgets the stream, but only the given entry of it (a newer entry of the same name stays). */
  drop(owned: OwnedStream): boolean {
    if (this.byName.get(owned.payload.dataStreamName) !== owned) return false;
    this.ids.delete(owned.payload.idInLbs);
    return this.byName.delete(owned.payload.dataStreamName);
  }

  all(): OwnedStream[] {
    return [...this.byName.values()];
  }

  get size(): number {
    return this.byName.size;
  }
}
