/** The protobuf libraries as wire.ts tunes them decode and encode exactly as before. */
import fc from "fast-check";
import { MsgSend } from "cosmjs-types/cosmos/bank/v1beta1/tx";
import { TxRaw } from "cosmjs-types/cosmos/tx/v1beta1/tx";
import { BinaryReader as BufReader, BinaryWriter as BufWriter } from "@bufbuild/protobuf/wire";
import { readerOf } from "./wire";
import { MsgPlaceOrder } from "../../client/src/generated/backstop/clearing/v1/tx";

/** A protobuf string field (field 1) holding exactly these bytes. */
function field(bytes: Uint8Array): Uint8Array {
  return new BufWriter().tag(1, 2).bytes(bytes).finish();
}

describe("wire: string decoding", () => {
  it("round-trips any string through cosmjs-types and our generated types", () => {
    fc.assert(
      fc.property(fc.string({ unit: "binary", maxLength: 80 }), fc.string({ unit: "grapheme-ascii", maxLength: 80 }), (any, ascii) => {
        for (const s of [any, ascii]) {
          const bytes = MsgSend.encode({ fromAddress: s, toAddress: ascii, amount: [{ denom: s, amount: "1" }] }).finish();
          expect(MsgSend.decode(bytes)).toEqual({ fromAddress: s, toAddress: ascii, amount: [{ denom: s, amount: "1" }] });
          expect(MsgSend.decode(readerOf(bytes)).fromAddress).toBe(s);
          const order = { owner: s, marketId: ascii, side: 1, price: "1", quantity: "2", timeInForce: 1, reduceOnly: false, clientId: 3n };
          expect(MsgPlaceOrder.decode(MsgPlaceOrder.encode(order).finish())).toEqual(order);
        }
      }),
    );
  });

  it("leaves bytes that are not ASCII to the libraries' own decoders", () => {
    const invalid = Uint8Array.of(0x61, 0xff, 0x62, 0xc3); // not UTF-8
    // @bufbuild: U+FFFD for each bad sequence, or an error in strict mode.
    const lenient = new BufReader(field(invalid));
    lenient.tag();
    expect(lenient.string()).toBe("a\ufffdb\ufffd");
    const strict = new BufReader(field(invalid));
    strict.tag();
    expect(() => strict.string(true)).toThrow();
    const r = new BufReader(field(Buffer.from("héllo €")));
    r.tag();
    expect(r.string()).toBe("héllo €");
    // A truncated field is still refused.
    const cut = new BufReader(field(Buffer.from("abcdef")).subarray(0, 5));
    cut.tag();
    expect(() => cut.string()).toThrow();
  });

  it("decodes a tx in place without changing what it decodes to", () => {
    const raw = TxRaw.encode({ bodyBytes: Uint8Array.of(1, 2, 3), authInfoBytes: Uint8Array.of(4), signatures: [new Uint8Array(64).fill(7)] }).finish();
    expect(TxRaw.decode(readerOf(raw))).toEqual(TxRaw.decode(raw));
  });
});
