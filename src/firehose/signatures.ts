import { createHash, createPublicKey, verify, type KeyObject } from 'node:crypto';
import { createRequire } from 'node:module';
import { parseDidKey, P256_JWT_ALG, SECP256K1_JWT_ALG } from '@atproto/crypto';
import { setBounded } from '../bounded-map.ts';
import { log } from '../logger.ts';

/**
 * Commit signatures checked natively instead of with @atproto/crypto's JavaScript curves, by the
 * same rules (ECDSA over SHA-256 of the data, a 64-byte r‖s signature, low S only, as atproto
 * requires against malleability): secp256k1 (most of the network's keys) with libsecp256k1, the
 * `secp256k1` package's prebuilt add-on (89 µs a check here, against 600 µs for OpenSSL's generic
 * curve: it was a third of the consumer's time, bench/firehose-ingest.ts --cpu-prof); P-256, and
 * secp256k1 where that add-on has no build for the platform, with OpenSSL. The add-on is loaded
 * directly: the package's own fallback is a JavaScript library.
 */
const CURVES: Record<string, { oid: string; halfOrder: bigint }> = {
  [SECP256K1_JWT_ALG]: { oid: '06052b8104000a', halfOrder: 0xfffffffffffffffffffffffffffffffebaaedce6af48a03bbfd25e8cd0364141n >> 1n },
  [P256_JWT_ALG]: { oid: '06082a8648ce3d030107', halfOrder: 0xffffffff00000000ffffffffffffffffbce6faada7179e84f3b9cac2fc632551n >> 1n },
};

interface Libsecp256k1 { ecdsaVerify(sig: Uint8Array, msg32: Uint8Array, publicKey: Uint8Array): boolean }
function loadLibsecp256k1(): Libsecp256k1 | null {
  try {
    return createRequire(import.meta.url)('secp256k1/bindings') as Libsecp256k1;
  } catch (err) {
    log.warn({ reason: (err as Error).message }, 'libsecp256k1 add-on not available here: secp256k1 signatures are checked with OpenSSL (slower)');
    return null;
  }
}
const libsecp256k1 = loadLibsecp256k1();
/** Whether secp256k1 signatures are checked with libsecp256k1 here. */
export const SECP256K1_NATIVE = libsecp256k1 !== null;

/** DER of a short (< 128 bytes) element. */
const der = (tag: number, body: Buffer) => Buffer.concat([Buffer.from([tag, body.length]), body]);

/** The SubjectPublicKeyInfo of an EC point (as `parseDidKey` gives it: uncompressed, or compressed). */
function spki(curveOid: string, point: Uint8Array): Buffer {
  const algorithm = der(0x30, Buffer.from(`06072a8648ce3d0201${curveOid}`, 'hex')); // id-ecPublicKey, the curve
  return der(0x30, Buffer.concat([algorithm, der(0x03, Buffer.concat([Buffer.from([0]), point]))]));
}

type Check = (data: Uint8Array, sig: Uint8Array) => boolean;

/** The check of one key: libsecp256k1 for a secp256k1 key when it is here, else OpenSSL. */
function checkOf(jwtAlg: string, point: Uint8Array, native = libsecp256k1): Check {
  const curve = CURVES[jwtAlg];
  if (!curve) throw new Error(`unsupported signing key algorithm ${jwtAlg}`);
  const lowS = (sig: Uint8Array) => sig.length === 64 && BigInt(`0x${Buffer.from(sig.subarray(32)).toString('hex')}`) <= curve.halfOrder;
  if (native && jwtAlg === SECP256K1_JWT_ALG) {
    return (data, sig) => {
      if (!lowS(sig)) return false;
      try {
        return native.ecdsaVerify(sig, createHash('sha256').update(data).digest(), point);
      } catch {
        return false; // r or s out of range: not a signature
      }
    };
  }
  const key: KeyObject = createPublicKey({ key: spki(curve.oid, point), format: 'der', type: 'spki' });
  return (data, sig) => lowS(sig) && verify('sha256', data, { key, dsaEncoding: 'ieee-p1363' }, sig);
}

/** Checks of recent authors' keys, bounded (hostile authors cannot grow it): the oldest written leaves first. */
const MAX_KEYS = 100_000;
const checks = new Map<string, Check>();

/** Whether `sig` is `didKey`'s signature of `data` (atproto's rules; a high-S signature is refused). */
export function verifySignature(didKey: string, data: Uint8Array, sig: Uint8Array): boolean {
  let check = checks.get(didKey);
  if (!check) {
    // Parsed once: parsing decompresses the point, most of a check's time in JavaScript.
    const { jwtAlg, keyBytes } = parseDidKey(didKey);
    check = checkOf(jwtAlg, keyBytes);
    setBounded(checks, didKey, check, MAX_KEYS);
  }
  return check(data, sig);
}

/** The OpenSSL check alone, for the test that holds both to the same rules. */
export function verifyWithOpenSsl(didKey: string, data: Uint8Array, sig: Uint8Array): boolean {
  const { jwtAlg, keyBytes } = parseDidKey(didKey);
  return checkOf(jwtAlg, keyBytes, null)(data, sig);
}
