import { firstValueFrom, timer } from 'rxjs';
import { DataStreamTypeError } from '../errors';
import { WrongTypeReply } from './port';
import type { EntryEngineDeps, Slot } from './slot';

/** Reads that failed in a row wait min(READ_RETRY_MAX_MS, READ_RETRY_MS · 2^n) before the next. */
const READ_RETRY_MS = 50;
const READ_RETRY_MAX_MS = 1000;
/** CLIENT UNBLOCK tries while the blocking read it must end has not reached Redis yet. */
const UNBLOCK_TRIES = 5;

/**
 * The shared reader of an engine: one read round after another while some slot waits for
 * entries. A round is XREAD over every waiting slot (the port cuts it into chunks of keys), sent
 * once the reader connection is open, so that every slot that started meanwhile is in it. When
 * a slot starts waiting while a blocking read is in flight, CLIENT UNBLOCK ends that read, and
 * the next round includes the slot.
 */
export class ReadLoop {
  private running = false;
  private wake: (() => void) | undefined;
  private blockingRound: number | undefined;
  private round = 0;
  private unblocking = false;
  private closed = false;

  constructor(
    private readonly deps: EntryEngineDeps,
    private readonly slots: ReadonlyMap<string, Slot>,
  ) {}

  /** Opens the reader connection ahead of the first read (its connect overlaps the slots' start). */
  open(): void {
    void this.deps.port.open().catch(() => undefined);
  }

  /** Ends the loop and closes the reader connection; a later `kick` starts again. */
  close(): void {
    this.closed = true;
    this.wake?.();
    void this.deps.port.unblock().catch(() => false);
    this.deps.port.close();
  }

  /** A slot waits for entries: start the loop, or end its blocking read so that the next round includes the slot. */
  kick(): void {
    this.closed = false;
    if (!this.running) {
      this.running = true;
      void this.loop();
      return;
    }
    this.wake?.();
    if (this.blockingRound !== undefined && !this.unblocking) {
      this.unblocking = true;
      const round = this.blockingRound;
      void (async () => {
        for (let i = 0; i < UNBLOCK_TRIES && this.blockingRound === round; i++) {
          if (await this.deps.port.unblock().catch(() => false)) break;
          await firstValueFrom(timer(1, this.deps.scheduler));
        }
      })().finally(() => (this.unblocking = false));
    }
  }

  private someWaiting(): boolean {
    for (const slot of this.slots.values()) if (slot.sink !== undefined) return true;
    return false;
  }

  private waiting(): Slot[] {
    const out: Slot[] = [];
    for (const slot of this.slots.values()) if (slot.sink !== undefined) out.push(slot);
    return out;
  }

  /** One round after another while some slot waits for entries. Never throws. */
  private async loop(): Promise<void> {
    const { port, blockMs, log, scheduler } = this.deps;
    let failures = 0;
    try {
      while (!this.closed) {
        if (!this.someWaiting()) {
          await new Promise<void>((resolve) => (this.wake = resolve));
          this.wake = undefined;
          continue;
        }
        let sent: Slot[] = [];
        try {
          await port.open();
          if (this.closed) break;
          sent = this.waiting();
          const round = ++this.round;
          this.blockingRound = round;
          const sentAt = scheduler.now();
          const reply = await port.read(sent, blockMs);
          failures = 0;
          this.blockingRound = undefined;
          for (const slot of sent) {
            const entries = reply.get(slot.name);
            if (entries !== undefined && this.stillWaits(slot)) slot.deliver(entries);
          }
          if (reply.size === 0 && scheduler.now() - sentAt >= blockMs) await this.checkGone(sent);
        } catch (err) {
          this.blockingRound = undefined;
          if (this.closed) break;
          if (err instanceof WrongTypeReply) {
            await this.checkGone(sent, true).catch(() => undefined);
            continue;
          }
          failures++;
          const delay = Math.min(READ_RETRY_MAX_MS, READ_RETRY_MS * 2 ** (failures - 1));
          log.warn({ err, streams: sent.length, delayMs: delay }, 'reading the owned data streams failed; retrying');
          await firstValueFrom(timer(delay, scheduler));
        }
      }
    } finally {
      this.running = false;
      this.blockingRound = undefined;
    }
  }

  /** Whether the slot still waits for the read that was sent (not stopped or ended since; only the round delivers, so it was not read since). */
  private stillWaits(slot: Slot): boolean {
    return slot.sink !== undefined && this.slots.get(slot.name) === slot;
  }

  /**
   * After an empty blocking read (or a WRONGTYPE reply): the streams whose key is gone although
   * they were read before end their work; keys that are not streams fail theirs with
   * `DataStreamTypeError`. A key that never existed is waited for (a producer may create it later).
   */
  private async checkGone(sent: readonly Slot[], all = false): Promise<void> {
    const asked = all ? sent : sent.filter((slot) => slot.after !== '0-0');
    if (asked.length === 0) return;
    const types = await this.deps.port.types(asked.map((slot) => slot.name));
    asked.forEach((slot, i) => {
      const type = types[i]!;
      if (type === 'stream' || (type === 'none' && slot.after === '0-0') || !this.stillWaits(slot)) return;
      if (type === 'none') slot.deliver([]);
      else slot.fail(new DataStreamTypeError(slot.name, type));
    });
  }
}
