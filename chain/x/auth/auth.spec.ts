/** The hand-written account encoding against cosmjs-types' BaseAccount encoder. */
import fc from "fast-check";
import { BaseAccount } from "cosmjs-types/cosmos/auth/v1beta1/auth";
import { PubKey } from "cosmjs-types/cosmos/crypto/secp256k1/keys";
import { Any } from "cosmjs-types/google/protobuf/any";
import { Account, encodeAccount, SECP256K1_PUBKEY_TYPE_URL } from "./keeper";

function libraryEncoding(acc: Account): Uint8Array {
  return BaseAccount.encode(
    BaseAccount.fromPartial({
      address: acc.address,
      accountNumber: acc.accountNumber,
      sequence: acc.sequence,
      pubKey: acc.pubkey ? Any.fromPartial({ typeUrl: SECP256K1_PUBKEY_TYPE_URL, value: PubKey.encode({ key: acc.pubkey }).finish() }) : undefined,
    }),
  ).finish();
}

const u64 = fc.oneof(fc.constantFrom(0n, 1n, 127n, 128n, 16_383n, 16_384n, 2n ** 63n, 2n ** 64n - 1n), fc.bigInt({ min: 0n, max: 2n ** 64n - 1n }));
const account = fc.record({
  address: fc.oneof(fc.constantFrom("", "backstop1qqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqq"), fc.string(), fc.string({ unit: "grapheme", maxLength: 200 })),
  accountNumber: u64,
  sequence: u64,
  pubkey: fc.option(fc.oneof(fc.uint8Array({ minLength: 33, maxLength: 33 }), fc.uint8Array({ maxLength: 300 })), { nil: null }),
});

describe("encodeAccount", () => {
  it("writes exactly BaseAccount.encode's bytes", () => {
    fc.assert(
      fc.property(account, (acc) => {
        expect(Buffer.from(encodeAccount(acc)).toString("hex")).toBe(Buffer.from(libraryEncoding(acc)).toString("hex"));
      }),
      { numRuns: 3000 },
    );
  });

  it("decodes back to the account", () => {
    const acc: Account = { address: "backstop1xyz", accountNumber: 42n, sequence: 300n, pubkey: Uint8Array.from({ length: 33 }, (_, i) => i + 2) };
    const back = BaseAccount.decode(encodeAccount(acc));
    expect([back.address, back.accountNumber, back.sequence, back.pubKey?.typeUrl]).toEqual([acc.address, 42n, 300n, SECP256K1_PUBKEY_TYPE_URL]);
    expect(Buffer.from(PubKey.decode(back.pubKey!.value).key)).toEqual(Buffer.from(acc.pubkey!));
  });

  it("refuses numbers outside uint64", () => {
    expect(() => encodeAccount({ address: "a", accountNumber: 2n ** 64n, sequence: 0n, pubkey: null })).toThrow(RangeError);
    expect(() => encodeAccount({ address: "a", accountNumber: 0n, sequence: -1n, pubkey: null })).toThrow(RangeError);
  });
});
