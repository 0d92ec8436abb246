/**
 * The private side of the ssh-ed25519 → age conversion, for tests only: it
 * gives independent vectors (our identity → real `age-keygen -y` must equal
 * our public conversion). The fleet tooling never handles private keys, so
 * this lives here and not in scripts/lib.
 */
import { createHash } from 'crypto';
import { bech32 } from '@scure/base';
import { SSH_ED25519_KEY_TYPE, SshKeyError, WireReader } from '../../scripts/lib/age-recipient';

/** Human-readable part of an age X25519 identity, upper case on output (`AGE-SECRET-KEY-1...`). */
const AGE_IDENTITY_HRP = 'AGE-SECRET-KEY-';

/**
 * The age identity (`AGE-SECRET-KEY-1...`) of an ed25519 private key given by
 * its 32-byte seed: the first 32 bytes of SHA-512(seed), which is the scalar
 * ed25519 itself uses (RFC 8032 §5.1.5). Like ssh-to-age, the bytes are not
 * clamped here: X25519 clamps on use, so `age` and `age-keygen -y` treat the
 * clamped and unclamped forms alike, and the string stays byte-identical to
 * `ssh-to-age -private-key`.
 */
export function ed25519SeedToAgeIdentity(seed: Uint8Array): string {
  if (seed.length !== 32) throw new SshKeyError(`an ed25519 seed has 32 bytes, this one has ${seed.length}`);
  const scalar = createHash('sha512').update(seed).digest().subarray(0, 32);
  return encodeAgeIdentity(new Uint8Array(scalar));
}

/** Bech32 `AGE-SECRET-KEY-1...` (upper case, as age writes it) for a 32-byte X25519 scalar. */
export function encodeAgeIdentity(scalar: Uint8Array): string {
  if (scalar.length !== 32) throw new SshKeyError(`an X25519 scalar has 32 bytes, this one has ${scalar.length}`);
  return bech32.encode(AGE_IDENTITY_HRP, bech32.toWords(scalar), false).toUpperCase();
}

const OPENSSH_PRIVATE_KEY_MAGIC = 'openssh-key-v1\0';

/**
 * The 32-byte seed of an unencrypted OpenSSH ed25519 private key file
 * (`-----BEGIN OPENSSH PRIVATE KEY-----`, the format `ssh-keygen` writes;
 * PROTOCOL.key in the OpenSSH sources). Passphrase-protected keys are refused.
 */
export function ed25519SeedFromOpenSshPrivateKey(pem: string): Uint8Array {
  const body = /-----BEGIN OPENSSH PRIVATE KEY-----([\s\S]*?)-----END OPENSSH PRIVATE KEY-----/.exec(pem);
  if (!body) throw new SshKeyError('not an OpenSSH private key file');
  const bytes = new Uint8Array(Buffer.from(body[1].replace(/\s+/g, ''), 'base64'));
  const magic = Buffer.from(bytes.subarray(0, OPENSSH_PRIVATE_KEY_MAGIC.length)).toString('latin1');
  if (magic !== OPENSSH_PRIVATE_KEY_MAGIC) throw new SshKeyError('not an openssh-key-v1 private key');
  const outer = new WireReader(bytes.subarray(OPENSSH_PRIVATE_KEY_MAGIC.length), 'the private key file');
  const cipher = outer.text();
  const kdf = outer.text();
  outer.string(); // kdf options
  if (cipher !== 'none' || kdf !== 'none') throw new SshKeyError('the private key is passphrase-protected');
  if (outer.uint32() !== 1) throw new SshKeyError('expected exactly one key in the private key file');
  outer.string(); // public key blob, repeated inside the private section
  const inner = new WireReader(outer.string(), 'the private key section');
  if (inner.uint32() !== inner.uint32()) throw new SshKeyError('the private key check bytes differ (corrupt file)');
  const keyType = inner.text();
  if (keyType !== SSH_ED25519_KEY_TYPE) {
    throw new SshKeyError(`got a ${keyType} private key, but only ${SSH_ED25519_KEY_TYPE} keys convert to age identities`);
  }
  const publicKey = inner.string();
  const secret = inner.string(); // seed (32) || public key (32)
  if (publicKey.length !== 32 || secret.length !== 64) throw new SshKeyError('malformed ed25519 private key');
  return new Uint8Array(secret.subarray(0, 32));
}

