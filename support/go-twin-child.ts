import { join } from 'node:path';
import { ChildConsumer, ChildOptions } from './child';
import type { ConsumerConfig } from './protocol';

/** What a Go consumer is configured with beside the shared child settings (support/protocol.ts). */
export interface GoTwinConfig extends ConsumerConfig {
  /** `WithForceConfigOverride`: start although `notify-keyspace-events` is already set, and set it to `KEx` */
  readonly forceConfigOverride?: boolean;
  /** `WithLBSRecoveryCount` */
  readonly recoveryCount?: number;
}

/**
 * A Go-behaviour twin (support/go-twin.ts) in a child process: the events and signals of
 * `ChildConsumer`, plus the calls a Go application makes on its own (Claim, DoneStream).
 */
export class GoTwinChild extends ChildConsumer {
  constructor(config: GoTwinConfig, options: ChildOptions = {}) {
    super(config, {
      ...options,
      program: join(__dirname, 'go-twin.ts'),
      env: {
        GO_FORCE_CONFIG_OVERRIDE: config.forceConfigOverride ? '1' : '',
        GO_RECOVERY_COUNT: config.recoveryCount === undefined ? '' : String(config.recoveryCount),
        ...options.env,
      },
    });
  }

  /** The application calls `Claim(lbsInfo)`, e.g. on an expiry event it had buffered. */
  claim(stream: string, id: string): void {
    this.process.stdin!.write(`${JSON.stringify({ cmd: 'claim', stream, id })}\n`);
  }

  /** The application calls `DoneStream(name)`. */
  doneStream(stream: string): void {
    this.process.stdin!.write(`${JSON.stringify({ cmd: 'done', stream })}\n`);
  }
}
