// The beats of one StreamHeartbeats stream, from their bytes. A beat that repeats the stream's
// last decoded one but for its seq (beat-bytes.ts) is taken without decoding it: the same report,
// already checked, converted and keyed, with the new seq (the very same Beat, its seq updated). Every other message is decoded and
// checked in full, as a unary Heartbeat's request is.
import { NodeRegistryServiceService, type StreamHeartbeatsRequest } from "@drover/proto";
import { ValidationError } from "../errors.js";
import type { Beat } from "../liveness/heartbeat.js";
import { reportKey } from "../liveness/report-memo.js";
import { sameButSeq, splitAtSeq, type SeqSplit } from "./beat-bytes.js";
import { beatFromProto } from "./beat-from-proto.js";
import { refusedRequest, streamMessageDecoder } from "./checked-service.js";

const decode = streamMessageDecoder<StreamHeartbeatsRequest>(NodeRegistryServiceService.streamHeartbeats);

export class BeatReader {
  private last: { bytes: Buffer; split: SeqSplit; beat: Beat } | undefined;
  /** Where each message's seq sits; kept by `last` when its message is decoded. */
  private scratch: SeqSplit = { seq: 0, start: 0, end: 0 };

  /** The beat these bytes carry; throws the refusal of a bad message. */
  read(bytes: Buffer): Beat {
    const split = splitAtSeq(bytes, this.scratch);
    const last = this.last;
    if (split && last && sameButSeq(bytes, split, last.bytes, last.split)) {
      // The same object beat after beat, its seq the latest (no object a beat): a caller keeps the seq, not the object, to know an earlier beat's.
      last.beat.seq = split.seq;
      return last.beat;
    }
    const msg = decode(bytes);
    const refused = refusedRequest(msg);
    if (refused) throw refused;
    if (!msg.beat) throw new ValidationError("beat", "is required: each StreamHeartbeats message carries one heartbeat");
    const beat = beatFromProto(msg.beat);
    beat.reportKey = reportKey(beat);
    this.last = split ? { bytes, split, beat } : undefined;
    if (split) this.scratch = { seq: 0, start: 0, end: 0 };
    return beat;
  }
}
