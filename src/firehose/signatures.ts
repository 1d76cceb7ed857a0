import { createPublicKey, verify, type KeyObject } from 'node:crypto';
import { parseDidKey, P256_JWT_ALG, SECP256K1_JWT_ALG } from '@atproto/crypto';

/**
 * Commit signatures checked with Node's crypto (OpenSSL) instead of @atproto/crypto's JavaScript
 * curves: the same rules (ECDSA over SHA-256 of the data, a 64-byte r‖s signature, low S only, as
 * atproto requires against malleability), five (secp256k1) to forty (P-256) times faster: the
 * JavaScript check was most of the consumer's time (bench/firehose-ingest.ts).
 */
const CURVES: Record<string, { oid: string; halfOrder: bigint }> = {
  [SECP256K1_JWT_ALG]: { oid: '06052b8104000a', halfOrder: 0xfffffffffffffffffffffffffffffffebaaedce6af48a03bbfd25e8cd0364141n >> 1n },
  [P256_JWT_ALG]: { oid: '06082a8648ce3d030107', halfOrder: 0xffffffff00000000ffffffffffffffffbce6faada7179e84f3b9cac2fc632551n >> 1n },
};

/** DER of a short (< 128 bytes) element. */
const der = (tag: number, body: Buffer) => Buffer.concat([Buffer.from([tag, body.length]), body]);

/** The SubjectPublicKeyInfo of an EC point (as `parseDidKey` gives it: uncompressed, or compressed). */
function spki(curveOid: string, point: Uint8Array): Buffer {
  const algorithm = der(0x30, Buffer.from(`06072a8648ce3d0201${curveOid}`, 'hex')); // id-ecPublicKey, the curve
  return der(0x30, Buffer.concat([algorithm, der(0x03, Buffer.concat([Buffer.from([0]), point]))]));
}

/** Keys of recent authors, bounded (hostile authors cannot grow it): the oldest written leaves first. */
const MAX_KEYS = 100_000;
const keys = new Map<string, { key: KeyObject; halfOrder: bigint }>();

/** The key of a `did:key`, parsed once (parsing decompresses the point: most of a check's time). */
function publicKey(didKey: string): { key: KeyObject; halfOrder: bigint } {
  let known = keys.get(didKey);
  if (!known) {
    const { jwtAlg, keyBytes } = parseDidKey(didKey);
    const curve = CURVES[jwtAlg];
    if (!curve) throw new Error(`unsupported signing key ${didKey}`);
    known = { key: createPublicKey({ key: spki(curve.oid, keyBytes), format: 'der', type: 'spki' }), halfOrder: curve.halfOrder };
    keys.set(didKey, known);
    if (keys.size > MAX_KEYS) keys.delete(keys.keys().next().value!);
  }
  return known;
}

/** Whether `sig` is `didKey`'s signature of `data` (atproto's rules; a high-S signature is refused). */
export function verifySignature(didKey: string, data: Uint8Array, sig: Uint8Array): boolean {
  const { key, halfOrder } = publicKey(didKey);
  if (sig.length !== 64) return false;
  if (BigInt(`0x${Buffer.from(sig.subarray(32)).toString('hex')}`) > halfOrder) return false;
  return verify('sha256', data, { key, dsaEncoding: 'ieee-p1363' }, sig);
}
