/**
 * Signature verification with its memo of recent successes: a repeated verification
 * answers the same, and a success never vouches for anything but its exact
 * (message, signature, key).
 */
import secp256k1 from "secp256k1";
import { createHash } from "node:crypto";
import fc from "fast-check";
import { verifiedKey, verifySecp256k1 } from "./keys";

const sha = (b: Uint8Array) => createHash("sha256").update(b).digest();

describe("verifySecp256k1", () => {
  const priv = sha(Buffer.from("backstop keys spec"));
  const pub = secp256k1.publicKeyCreate(priv, true);
  const other = secp256k1.publicKeyCreate(sha(Buffer.from("someone else")), true);
  const msg = Buffer.from("sign doc bytes");
  const sig = secp256k1.ecdsaSign(sha(msg), priv).signature;

  it("verifies, and verifies again from the memo", () => {
    expect(verifySecp256k1(sig, msg, pub)).toBe(true);
    expect(verifySecp256k1(sig, msg, pub)).toBe(true);
  });

  it("a remembered success does not carry over to another message, signature or key", () => {
    expect(verifySecp256k1(sig, msg, pub)).toBe(true);
    expect(verifySecp256k1(sig, Buffer.from("sign doc bytez"), pub)).toBe(false);
    expect(verifySecp256k1(sig, msg, other)).toBe(false);
    const bad = Uint8Array.from(sig);
    bad[10] ^= 1;
    expect(verifySecp256k1(bad, msg, pub)).toBe(false);
    expect(verifySecp256k1(bad, msg, pub)).toBe(false);
  });

  it("rejects malformed input", () => {
    expect(verifySecp256k1(sig.subarray(0, 63), msg, pub)).toBe(false);
    expect(verifySecp256k1(sig, msg, pub.subarray(0, 32))).toBe(false);
    expect(verifySecp256k1(sig, msg, Buffer.alloc(33, 7))).toBe(false);
  });

  it("answers as libsecp256k1 does on the compressed key, for keys seen before or not, on the curve or not (property)", () => {
    const keys = [pub, other, Buffer.concat([Buffer.from([2]), Buffer.alloc(32, 5)])];
    fc.assert(
      fc.property(
        fc.uint8Array({ minLength: 32, maxLength: 32 }),
        fc.constantFrom(0, 1, 2),
        fc.oneof(fc.constant(null), fc.uint8Array({ minLength: 33, maxLength: 33 })),
        fc.boolean(),
        (m, signer, randomKey, tamper) => {
          const s = secp256k1.ecdsaSign(sha(m), signer === 0 ? priv : sha(Buffer.from("someone else"))).signature;
          if (tamper) s[5] ^= 0x40;
          const key = randomKey ? Buffer.concat([Buffer.from([2 + (randomKey[0] & 1)]), randomKey.subarray(1)]) : keys[signer];
          let expected: boolean;
          try {
            expected = secp256k1.ecdsaVerify(s, sha(m), key);
          } catch {
            expected = false;
          }
          // verifiedKey skips the memo of successes, so every call reaches the verifier.
          expect(verifiedKey(s, m, key) !== undefined).toBe(expected);
          expect(verifiedKey(s, m, key) !== undefined).toBe(expected); // the key now remembered
        },
      ),
      { numRuns: 300 },
    );
  });
});
