import * as A from 'fp-ts/Array';
import * as E from 'fp-ts/Either';
import { pipe } from 'fp-ts/function';
import * as t from 'io-ts';
import { LBS_FIELD, MUTEX_KEY_SEP } from '../keys';
import type { AdditionalInfo, LbsInfo } from '../types';

interface NonEmptyStringBrand {
  readonly NonEmptyString: unique symbol;
}
const NonEmptyString = t.brand(t.string, (s): s is t.Branded<string, NonEmptyStringBrand> => s.length > 0, 'NonEmptyString');

/** The JSON in the `lbs-input` field, with the Go struct's field names (`notifs.LBSInputMessage`). */
export const LbsInputMessage = t.intersection([
  t.type({ DataStreamName: NonEmptyString }),
  t.partial({ Info: t.union([t.UnknownRecord, t.null]) }),
]);
export type LbsInputMessage = t.TypeOf<typeof LbsInputMessage>;

/** An LBS entry as Redis returns it: its id and its flat field/value list. */
export interface RawEntry {
  readonly id: string;
  readonly fields: readonly string[];
}

/** A decoded LBS entry: the stream to hand out and its `Info`. */
export interface LbsEntry {
  readonly payload: LbsInfo;
  readonly additionalInfo: AdditionalInfo;
}

/** Why an entry was refused; it goes with the entry to the dead-letter stream. */
export interface BadEntry {
  readonly entry: RawEntry;
  readonly reason: string;
}

const describe = (errors: t.Errors): string =>
  errors
    .map((e) => {
      const path = e.context.map((c) => c.key).filter((k) => k !== '' && !/^\d+$/.test(k)).join('.');
      return `${path || 'value'} must be ${e.context[e.context.length - 1]?.type.name ?? 'valid'}`;
    })
    .filter((m, i, all) => all.indexOf(m) === i)
    .join('; ');

const parseJson = (text: string): E.Either<string, unknown> =>
  E.tryCatch(() => JSON.parse(text) as unknown, () => 'not JSON');

/** `t.UnknownRecord.is`. */
const isRecord = (u: unknown): u is Record<string, unknown> => u !== null && typeof u === 'object' && !Array.isArray(u);

/**
 * The message when it is what `LbsInputMessage` accepts and its name has no separator (what
 * nearly every entry is), checked without io-ts: decoding is on the path of every expiry and
 * claim of a mass failover. Undefined otherwise: the codec then says what is wrong.
 */
const wellFormed = (text: string): { readonly DataStreamName: string; readonly Info?: Record<string, unknown> | null } | undefined => {
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    return undefined;
  }
  if (!isRecord(json)) return undefined;
  const { DataStreamName: name, Info: info } = json;
  if (typeof name !== 'string' || name.length === 0 || name.includes(MUTEX_KEY_SEP)) return undefined;
  return info === undefined || info === null || isRecord(info) ? { DataStreamName: name, Info: info } : undefined;
};

/**
 * Decodes one LBS entry. Pure: the reasons in `Left` are what the dead-letter stream records.
 * Other fields beside `lbs-input` (such as a Go producer's `_retry_count`) are ignored.
 *
 * @example
 * decodeLbsEntry({ id: '1-0', fields: ['lbs-input', '{"DataStreamName":"s1","Info":{"a":1}}'] }, 1024)
 * // Right({ payload: { dataStreamName: 's1', idInLbs: '1-0' }, additionalInfo: { a: 1 } })
 */
export const decodeLbsEntry = (entry: RawEntry, maxEntryBytes: number): E.Either<BadEntry, LbsEntry> => {
  const bad = (reason: string): BadEntry => ({ entry, reason });
  const at = entry.fields.findIndex((f, i) => i % 2 === 0 && f === LBS_FIELD);
  const value = at >= 0 ? entry.fields[at + 1] : undefined;
  if (value === undefined) {
    const names = entry.fields.filter((_, i) => i % 2 === 0).join(', ');
    return E.left(bad(`expected the field "${LBS_FIELD}", got [${names}]`));
  }
  // A UTF-16 unit is at most 3 UTF-8 bytes: most entries need no count.
  if (value.length * 3 > maxEntryBytes && Buffer.byteLength(value) > maxEntryBytes) {
    return E.left(bad(`oversized: ${Buffer.byteLength(value)} bytes > maxEntryBytes ${maxEntryBytes}`));
  }
  const quick = wellFormed(value);
  if (quick !== undefined) return E.right({ payload: { dataStreamName: quick.DataStreamName, idInLbs: entry.id }, additionalInfo: quick.Info ?? {} });
  return pipe(
    parseJson(value),
    E.chain((json) => pipe(LbsInputMessage.decode(json), E.mapLeft(describe))),
    E.chain((msg) =>
      msg.DataStreamName.includes(MUTEX_KEY_SEP)
        ? E.left(`DataStreamName contains the lock-key separator ${MUTEX_KEY_SEP}`)
        : E.right(msg),
    ),
    E.bimap(bad, (msg) => ({
      payload: { dataStreamName: msg.DataStreamName, idInLbs: entry.id },
      additionalInfo: msg.Info ?? {},
    })),
  );
};

/** Encodes what `addStream` writes: the Go struct's JSON. */
export const encodeLbsMessage = (dataStreamName: string, info: AdditionalInfo): string =>
  JSON.stringify({ DataStreamName: dataStreamName, Info: info });

/** A batch of LBS entries split into those to hand out and those to dead-letter. */
export interface DecodedBatch {
  readonly good: readonly LbsEntry[];
  readonly bad: readonly BadEntry[];
}

/**
 * Decodes a batch of raw entries: one bad entry never stops the batch. Pure; order kept within each side.
 * With `belongsHere` (one LBS partition of a tagged service), an entry whose data stream belongs to
 * another partition is bad too.
 *
 * @example
 * partitionEntries([{ id: '1-0', fields: ['lbs-input', 'oops'] }], 1024) // { good: [], bad: [{ entry, reason: 'not JSON' }] }
 */
export const partitionEntries = (entries: readonly RawEntry[], maxEntryBytes: number, belongsHere?: (dataStreamName: string) => boolean): DecodedBatch => {
  const decode = (e: RawEntry): E.Either<BadEntry, LbsEntry> =>
    pipe(
      decodeLbsEntry(e, maxEntryBytes),
      E.filterOrElse(
        (good) => belongsHere === undefined || belongsHere(good.payload.dataStreamName),
        (): BadEntry => ({ entry: e, reason: 'its DataStreamName belongs to another LBS partition (its producer does not place names as addStream does)' }),
      ),
    );
  const { left, right } = A.separate(entries.map(decode));
  return { good: right, bad: left };
};
