// The position of a resuming subscription and the feed's sequence rules
// (docs/guarantees.md), as kessan_client.resume.Tracker.
import { clone } from "@bufbuild/protobuf";
import { StartMode, SubscribeRequestSchema, type FeedEvent, type SubscribeRequest } from "./proto.js";

/** The feed broke its sequence rules (a gap): like DATA_LOSS. */
export class SequenceError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "SequenceError";
  }
}

/**
 * Tracker: outside a snapshot, once the position is known, a journaled
 * sequence at or below it is a duplicate (accept() returns false); with an
 * empty filter the next one must be position + 1, except between a
 * Conflated mark and the next Heartbeat: any other jump throws
 * SequenceError. SnapshotEnd sets the position; snapshot items are not checked.
 */
export class Tracker {
  readonly everyEvent: boolean;
  /** The last journaled sequence delivered, or the snapshot point passed. */
  position: bigint | undefined;
  inSnapshot = false;
  /** The next stream must start with a snapshot (after a Resync, or a cut one). */
  snapshotPending = false;
  jumpAllowed = false;
  duplicates = 0;
  /** The journal's, from the last SnapshotBegin or Heartbeat; a resume gives it back. */
  incarnation: string;

  constructor(private readonly request: SubscribeRequest) {
    const f = request.filter;
    this.everyEvent = !f || (!f.issuers.length && !f.concepts.length && !f.segments.length && !f.eventKinds.length);
    this.incarnation = request.incarnation;
    if (request.start === StartMode.FROM_SEQUENCE) this.position = request.fromSequence;
  }

  /** True to deliver `event`, false for a duplicate. */
  accept(event: FeedEvent): boolean {
    const body = event.body;
    switch (body.case) {
      case "resync":
        this.snapshotPending = true;
        return true;
      case "snapshotBegin":
        if (body.value.incarnation) this.incarnation = body.value.incarnation;
        this.inSnapshot = this.snapshotPending = true;
        return true;
      case "snapshotEnd":
        this.inSnapshot = this.snapshotPending = false;
        this.jumpAllowed = false;
        this.position = body.value.sequence;
        return true;
      case "conflated":
        this.jumpAllowed = true;
        return true;
      case "heartbeat":
        if (body.value.incarnation) this.incarnation = body.value.incarnation;
        this.jumpAllowed = false;
        return true;
    }
    if (event.sequence === 0n || this.inSnapshot) return true;
    if (this.position === undefined) {
      this.position = event.sequence;
      return true;
    }
    if (event.sequence <= this.position) {
      this.duplicates++;
      return false;
    }
    if (this.everyEvent && !this.jumpAllowed && event.sequence !== this.position + 1n) {
      throw new SequenceError(
        `gap in the feed: sequence ${event.sequence} follows ${this.position} without a Resync or Conflated mark`);
    }
    this.position = event.sequence;
    return true;
  }

  streamEnded(): void {
    if (this.inSnapshot) this.snapshotPending = true;
    this.inSnapshot = false;
    this.jumpAllowed = false;
  }

  /** The request that resumes the subscription. */
  nextRequest(): SubscribeRequest {
    const request = clone(SubscribeRequestSchema, this.request);
    if (this.snapshotPending) {
      request.start = StartMode.SNAPSHOT_THEN_LIVE;
      request.fromSequence = 0n;
    } else if (this.position !== undefined) {
      request.start = StartMode.FROM_SEQUENCE;
      request.fromSequence = this.position;
      request.incarnation = this.incarnation;
    }
    return request;
  }
}
