/**
 * SSH ed25519 keys as age X25519 keys, the way Mic92/ssh-to-age derives them.
 *
 * sops-nix decrypts a host's secrets with the host's own SSH host key
 * (/etc/ssh/ssh_host_ed25519_key): it turns that ed25519 key into an X25519
 * age identity. To encrypt for the host, sops needs the matching age
 * recipient, which is the Montgomery form of the ed25519 public point,
 * bech32-encoded with the human-readable part "age". This file computes it
 * from a public key line (authorized_keys, known_hosts or ssh-keyscan form),
 * so no ssh-to-age binary is needed on the user's machine.
 *
 * Only public keys are handled here. The tests' private-side counterpart
 * (__tests__/support/age-identity.ts) derives the host's age identity
 * independently, so the real `age-keygen` and `age` can check the result.
 */
import { ed25519, edwardsToMontgomeryPub } from '@noble/curves/ed25519';
import { bech32 } from '@scure/base';

/** The only SSH key type that converts to age (ssh-to-age rejects all others too). */
export const SSH_ED25519_KEY_TYPE = 'ssh-ed25519';

/** Human-readable part of an age X25519 recipient (`age1...`). */
export const AGE_RECIPIENT_HRP = 'age';


/** A key line that does not hold a usable ssh-ed25519 public key. */
export class SshKeyError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'SshKeyError';
  }
}

/** An OpenSSH public key as found in one line of text. */
export interface OpenSshPublicKey {
  /** Key type as written in the line, e.g. `ssh-ed25519`. */
  readonly keyType: string;
  /** The decoded wire-format blob (RFC 4253 §6.6). */
  readonly blob: Uint8Array;
  /** Host field of a known_hosts / ssh-keyscan line, '' for an authorized_keys line. */
  readonly host: string;
  /** Trailing comment, '' when none. */
  readonly comment: string;
}

/** Reads length-prefixed fields (RFC 4251 §5 `string`, `uint32`) from a byte buffer (also used by the tests' private-key parser). */
export class WireReader {
  private offset = 0;

  constructor(private readonly bytes: Uint8Array, private readonly what: string) {}

  uint32(): number {
    if (this.offset + 4 > this.bytes.length) throw new SshKeyError(`${this.what} is truncated`);
    const b = this.bytes;
    const o = this.offset;
    this.offset += 4;
    return ((b[o] << 24) >>> 0) + (b[o + 1] << 16) + (b[o + 2] << 8) + b[o + 3];
  }

  string(): Uint8Array {
    const length = this.uint32();
    if (this.offset + length > this.bytes.length) throw new SshKeyError(`${this.what} is truncated`);
    const field = this.bytes.subarray(this.offset, this.offset + length);
    this.offset += length;
    return field;
  }

  text(): string {
    return Buffer.from(this.string()).toString('latin1');
  }

  get remaining(): number {
    return this.bytes.length - this.offset;
  }
}

const BASE64 = /^[A-Za-z0-9+/]+={0,2}$/;

/**
 * Finds the public key in one line of text: `type base64 [comment]`
 * (authorized_keys, .pub files) or `host type base64 [comment]`
 * (known_hosts, ssh-keyscan output). Options before the key type
 * (authorized_keys `from="..."`) are not supported: pass the key itself.
 */
export function parseOpenSshPublicKeyLine(line: string): OpenSshPublicKey {
  const fields = line.trim().split(/\s+/);
  if (fields.length === 0 || fields[0] === '' || fields[0].startsWith('#')) {
    throw new SshKeyError('no SSH public key in an empty or comment line');
  }
  // The key type is the first field (authorized_keys) or the second (known_hosts).
  const typeAt = looksLikeKeyType(fields[0]) ? 0 : looksLikeKeyType(fields[1] ?? '') ? 1 : -1;
  if (typeAt < 0 || fields.length < typeAt + 2) {
    throw new SshKeyError(`not an OpenSSH public key line: "${abbreviate(line)}"`);
  }
  const keyType = fields[typeAt];
  const base64 = fields[typeAt + 1];
  if (!BASE64.test(base64)) {
    throw new SshKeyError(`the ${keyType} key data is not base64: "${abbreviate(base64)}"`);
  }
  return {
    keyType,
    blob: new Uint8Array(Buffer.from(base64, 'base64')),
    host: typeAt === 1 ? fields[0] : '',
    comment: fields.slice(typeAt + 2).join(' '),
  };
}

/**
 * The raw 32-byte ed25519 public key in an OpenSSH public key line.
 * Throws SshKeyError for other key types, malformed blobs and points that
 * cannot be an ed25519 public key.
 */
export function ed25519PublicKeyFromLine(line: string): Uint8Array {
  const key = parseOpenSshPublicKeyLine(line);
  if (key.keyType !== SSH_ED25519_KEY_TYPE) {
    throw new SshKeyError(
      `got a ${key.keyType} key, but only ${SSH_ED25519_KEY_TYPE} keys convert to age recipients ` +
        `(ssh-keyscan -t ed25519 fetches the right host key)`,
    );
  }
  const reader = new WireReader(key.blob, `the ${SSH_ED25519_KEY_TYPE} key data`);
  const innerType = reader.text();
  // The text field and the type inside the blob must agree: a mismatch means a corrupted or forged line.
  if (innerType !== SSH_ED25519_KEY_TYPE) {
    throw new SshKeyError(`the key line says ${SSH_ED25519_KEY_TYPE} but its data holds a "${abbreviate(innerType)}" key`);
  }
  const publicKey = reader.string();
  if (publicKey.length !== 32) {
    throw new SshKeyError(`an ed25519 public key has 32 bytes, this one has ${publicKey.length}`);
  }
  if (reader.remaining !== 0) {
    throw new SshKeyError(`the ${SSH_ED25519_KEY_TYPE} key data has ${reader.remaining} unexpected trailing bytes`);
  }
  return new Uint8Array(publicKey);
}

/**
 * The age recipient (`age1...`) for a raw 32-byte ed25519 public key: the
 * Montgomery u-coordinate of the point, bech32 with HRP "age".
 */
export function ed25519PublicKeyToAgeRecipient(publicKey: Uint8Array): string {
  if (publicKey.length !== 32) {
    throw new SshKeyError(`an ed25519 public key has 32 bytes, this one has ${publicKey.length}`);
  }
  let point;
  try {
    point = ed25519.Point.fromHex(publicKey);
  } catch {
    throw new SshKeyError('the ed25519 public key is not a point on the curve');
  }
  // A small-order point maps to a u-coordinate every X25519 exchange with gives
  // an all-zero secret; age refuses such recipients, so stop here with a reason.
  if (point.isSmallOrder()) {
    throw new SshKeyError('the ed25519 public key is a small-order point and cannot receive age-encrypted data');
  }
  return bech32.encode(AGE_RECIPIENT_HRP, bech32.toWords(edwardsToMontgomeryPub(publicKey)), false);
}

/**
 * The age recipient for an OpenSSH ssh-ed25519 public key line, e.g. one line
 * of `ssh-keyscan -t ed25519 host` or the content of ssh_host_ed25519_key.pub.
 * Same result as `ssh-to-age`.
 */
export function sshPublicKeyToAgeRecipient(line: string): string {
  return ed25519PublicKeyToAgeRecipient(ed25519PublicKeyFromLine(line));
}

/** True when `text` is a well-formed age X25519 recipient (HRP "age", 32 bytes, valid checksum). */
export function isAgeRecipient(text: string): boolean {
  if (text !== text.toLowerCase() || !text.startsWith(`${AGE_RECIPIENT_HRP}1`)) return false;
  try {
    const decoded = bech32.decode(text as `${string}1${string}`, false);
    return decoded.prefix === AGE_RECIPIENT_HRP && bech32.fromWords(decoded.words).length === 32;
  } catch {
    return false;
  }
}

function looksLikeKeyType(field: string): boolean {
  return /^(ssh-[a-z0-9-]+|ecdsa-sha2-[a-z0-9-]+|sk-[a-z0-9-]+@openssh\.com)(@openssh\.com)?$/.test(field);
}

function abbreviate(text: string): string {
  const oneLine = text.replace(/\s+/g, ' ').trim();
  return oneLine.length > 60 ? `${oneLine.slice(0, 57)}...` : oneLine;
}
