import { describe, expect, it } from "vitest";
import { BinaryWriter, WireType } from "@bufbuild/protobuf/wire";
import { DomainState, StreamHeartbeatsRequest, type HeartbeatRequest } from "@drover/proto";
import { ValidationError } from "../errors.js";
import { reportKey } from "../liveness/report-memo.js";
import { beatFromProto } from "./beat-from-proto.js";
import { BeatReader } from "./beat-reader.js";
import { splitAtSeq } from "./beat-bytes.js";

const VM = "7d0b2a8e-5d43-4d38-9a51-0c6f0e8a1b11";
const request = (seq: number, state = DomainState.DOMAIN_STATE_RUNNING): HeartbeatRequest => ({
  name: "node-a",
  bootId: "000000000001-boot",
  seq,
  libvirtUnavailable: "",
  intervalMs: 0,
  domains: [{ vmId: VM, name: "web", state, reason: "", interfaces: [], reportInterfaces: false, generation: 7 }],
});
const bytes = (r: HeartbeatRequest) => Buffer.from(StreamHeartbeatsRequest.encode({ beat: r }).finish());
/** What decoding the message in full gives. */
const decoded = (r: HeartbeatRequest) => {
  const beat = beatFromProto(StreamHeartbeatsRequest.decode(bytes(r)).beat!);
  return { ...beat, reportKey: reportKey(beat) };
};

describe("BeatReader", () => {
  it("takes a beat that repeats the last but for seq without decoding it, as decoding would", () => {
    const reader = new BeatReader();
    const first = reader.read(bytes(request(1)));
    expect(first).toEqual(decoded(request(1)));
    // Across the varint widths of seq (1 to 2 bytes at 128, 2 to 3 at 16,384), and at 2^53.
    for (const seq of [2, 127, 128, 129, 16_383, 16_384, 16_385, Number.MAX_SAFE_INTEGER]) {
      const beat = reader.read(bytes(request(seq)));
      expect(beat).toEqual(decoded(request(seq)));
    }
    // The fast path hands on the report it decoded before: the very same domains.
    const a = reader.read(bytes(request(20_000)));
    const b = reader.read(bytes(request(20_001)));
    expect(b.domains).toBe(a.domains);
    expect(b.seq).toBe(20_001);
  });

  it("decodes a changed report", () => {
    const reader = new BeatReader();
    const running = reader.read(bytes(request(1)));
    const shutoff = reader.read(bytes(request(2, DomainState.DOMAIN_STATE_SHUTOFF)));
    expect(shutoff).toEqual(decoded(request(2, DomainState.DOMAIN_STATE_SHUTOFF)));
    expect(shutoff.domains[0]!.state).toBe("shutoff");
    expect(shutoff.reportKey).not.toBe(running.reportKey);
  });

  it("keeps each decoded report's seq position apart from the next message's (one split object reused a beat)", () => {
    const reader = new BeatReader();
    const shutoff = (seq: number) => request(seq, DomainState.DOMAIN_STATE_SHUTOFF);
    // A refused message and a changed report between repeats: each repeat is taken as the last decoded report, as decoding gives it.
    const sequence = [request(1), request(2), shutoff(3), shutoff(4), shutoff(5), request(6), request(7)];
    // Each beat checked as it comes: a repeat hands on the same Beat, its seq updated.
    const domains = sequence.map((r) => {
      const beat = reader.read(bytes(r));
      expect(beat).toEqual(decoded(r));
      return beat.domains;
    });
    // The repeats took the fast path (the very same domains).
    expect(domains[1]).toBe(domains[0]);
    expect(domains[3]).toBe(domains[2]);
    expect(domains[4]).toBe(domains[2]);
    expect(domains[6]).toBe(domains[5]);
    expect(() => reader.read(Buffer.alloc(0))).toThrow(ValidationError);
    expect(reader.read(bytes(request(8)))).toEqual(decoded(request(8)));
    const into = { seq: 0, start: 0, end: 0 };
    expect(splitAtSeq(bytes(request(0)), into)).toBe(into);
    expect(into.start).toBe(into.end); // no seq field: 0 is not written
  });

  it("refuses a seq past 2^53 after beats that repeat it, naming the field", () => {
    const reader = new BeatReader();
    reader.read(bytes(request(1)));
    const huge = new BinaryWriter();
    const inner = StreamHeartbeatsRequest.encode({ beat: request(0) }).finish().subarray(2); // the beat without seq (0 is not written)
    const beat = new BinaryWriter().raw(inner).tag(4, WireType.Varint).uint64(2n ** 60n).finish();
    huge.tag(1, WireType.LengthDelimited).bytes(beat);
    expect(() => reader.read(Buffer.from(huge.finish()))).toThrow(/beat\.seq/);
  });

  it("refuses a message without a beat", () => {
    expect(() => new BeatReader().read(Buffer.alloc(0))).toThrow(ValidationError);
  });

  it("decodes in full what is laid out otherwise: a second seq, another field beside the beat", () => {
    const reader = new BeatReader();
    reader.read(bytes(request(1)));
    const inner = StreamHeartbeatsRequest.encode({ beat: request(5) }).finish().subarray(2);
    const twoSeqs = new BinaryWriter().tag(1, WireType.LengthDelimited).bytes(new BinaryWriter().raw(inner).tag(4, WireType.Varint).uint64(9n).finish()).finish();
    expect(splitAtSeq(twoSeqs)).toBeUndefined();
    // Protobuf takes the last one.
    expect(reader.read(Buffer.from(twoSeqs)).seq).toBe(9);
    const extra = new BinaryWriter().raw(bytes(request(6))).tag(9, WireType.Varint).uint32(1).finish();
    expect(splitAtSeq(extra)).toBeUndefined();
    expect(reader.read(Buffer.from(extra))).toEqual(decoded(request(6)));
  });
});
