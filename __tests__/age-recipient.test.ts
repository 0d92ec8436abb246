/**
 * SSH ed25519 → age conversion, checked against the real tools: keys come from
 * `ssh-keygen`, recipients are confirmed by `age-keygen -y`, and `age` must
 * decrypt with our identity what it encrypted to our recipient.
 *
 * Needs ssh-keygen (openssh-client) and age + age-keygen (Debian package `age`).
 * Missing tools skip those tests with the reason in the test name, except on CI
 * (CI=true), where they fail.
 */
import { execFileSync, spawnSync } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { ED25519_TORSION_SUBGROUP, ed25519, edwardsToMontgomeryPriv } from '@noble/curves/ed25519';
import {
  SshKeyError,
  ed25519PublicKeyFromLine,
  isAgeRecipient,
  parseOpenSshPublicKeyLine,
  sshPublicKeyToAgeRecipient,
} from '../scripts/lib/age-recipient';
import { ed25519SeedFromOpenSshPrivateKey, ed25519SeedToAgeIdentity, encodeAgeIdentity } from './support/age-identity';
import { onPath } from './support/process';


const REQUIRED_TOOLS = ['ssh-keygen', 'age', 'age-keygen'];
const missing = REQUIRED_TOOLS.filter((t) => !onPath(t));
const describeWithTools = missing.length === 0 ? describe : describe.skip;
if (missing.length > 0) {
  const reason = `${missing.join(', ')} not installed (apt-get install age openssh-client)`;
  if (process.env.CI === 'true') {
    test('the real tools these tests need are installed', () => {
      throw new Error(`CI must run the real-tool tests: ${reason}`);
    });
  } else {
    test.skip(`SKIPPED real-tool tests: ${reason}`, () => undefined);
  }
}

function bytesToHex(b: Uint8Array): string {
  return Buffer.from(b).toString('hex');
}

function sshBlob(...fields: Uint8Array[]): string {
  const parts: Buffer[] = [];
  for (const f of fields) {
    const len = Buffer.alloc(4);
    len.writeUInt32BE(f.length);
    parts.push(len, Buffer.from(f));
  }
  return Buffer.concat(parts).toString('base64');
}

const ED25519_TYPE = new Uint8Array(Buffer.from('ssh-ed25519'));

describe('known vectors from Mic92/ssh-to-age', () => {
  // Public keys: ssh-to-age's cmd/ssh-to-age/test-assets/id_ed25519.pub and the two ed25519 lines of
  // test-assets/keyscan.txt. Expected recipients: what its README prints for `ssh-to-age -i
  // ~/.ssh/id_ed25519.pub` and for `ssh-keyscan eve.thalheim.io eva.thalheim.io | ssh-to-age`
  // (github.com/Mic92/ssh-to-age at commit 2643a7f; the README's AGE-SECRET-KEY example also gives
  // age17044… under `age-keygen -y`, which ties that README example to test-assets/id_ed25519).
  test.each([
    [
      'ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOHz+U0YtjINc54dZiJNclfmEFifF7RXCFlNlTbuZBji joerg@turingmachine',
      'age17044m9wgakla6pzftf4srtl3h5mcsr85jysgt5fg23zpnta8sfdqhzn452',
    ],
    [
      'eve.thalheim.io ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIF/KPU3Z5LSjbBI6hrq25wCcseq2UpqSzUFZRr+ux6LM',
      'age1hjm3aujg9e79f5yth8a2cejzdjg5n9vnu96l05p70uvfpeltnpms7yy3pp',
    ],
    [
      'eva.thalheim.io ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIIL2vjdqpppuCn7yPdF2muINriAG7zBWrsELKpPWkhn5',
      'age1v8zjc47jmlqwefyu66s0d4ke98qr4vnuj3cpvs4z9npfdw833dxqwjrhzv',
    ],
  ])('%s', (line, expected) => {
    expect(sshPublicKeyToAgeRecipient(line)).toBe(expected);
    expect(isAgeRecipient(expected)).toBe(true);
  });
});

describe('parsing public key lines', () => {
  const key = 'AAAAC3NzaC1lZDI1NTE5AAAAIOHz+U0YtjINc54dZiJNclfmEFifF7RXCFlNlTbuZBji';

  test('authorized_keys, known_hosts and ssh-keyscan forms give the same key', () => {
    const forms = [
      `ssh-ed25519 ${key}`,
      `ssh-ed25519 ${key} a comment with spaces`,
      `web-1 ssh-ed25519 ${key}`,
      `[127.0.0.1]:2222 ssh-ed25519 ${key}`,
      `  ssh-ed25519   ${key}\n`,
    ];
    const recipients = new Set(forms.map(sshPublicKeyToAgeRecipient));
    expect([...recipients]).toEqual(['age17044m9wgakla6pzftf4srtl3h5mcsr85jysgt5fg23zpnta8sfdqhzn452']);
    expect(parseOpenSshPublicKeyLine(`[127.0.0.1]:2222 ssh-ed25519 ${key}`)).toMatchObject({ host: '[127.0.0.1]:2222', comment: '' });
    expect(parseOpenSshPublicKeyLine(`ssh-ed25519 ${key} a b`)).toMatchObject({ host: '', comment: 'a b' });
  });

  test('rejects other key types, naming the type', () => {
    // The ssh-rsa line of ssh-to-age's test-assets/keyscan.txt (shortened blob is enough: the type is checked first).
    expect(() => sshPublicKeyToAgeRecipient('eve.thalheim.io ssh-rsa AAAAB3NzaC1yc2EAAAADAQABAAACAQDHD6xarNtERpyo5HTTBuowEw3EH6zGG'))
      .toThrow(/got a ssh-rsa key, but only ssh-ed25519 keys convert/);
    expect(() => sshPublicKeyToAgeRecipient(`ecdsa-sha2-nistp256 ${key}`)).toThrow(/got a ecdsa-sha2-nistp256 key/);
    expect(() => sshPublicKeyToAgeRecipient(`sk-ssh-ed25519@openssh.com ${key}`)).toThrow(/got a sk-ssh-ed25519@openssh.com key/);
    expect(() => sshPublicKeyToAgeRecipient('# 127.0.0.1:22 SSH-2.0-OpenSSH_9.2')).toThrow(SshKeyError);
    expect(() => sshPublicKeyToAgeRecipient('')).toThrow(SshKeyError);
    expect(() => sshPublicKeyToAgeRecipient('hello world')).toThrow(/not an OpenSSH public key line/);
  });

  test('rejects blobs that do not hold an ed25519 key', () => {
    const pub = new Uint8Array(32).fill(7);
    // The text says ssh-ed25519, the blob says ssh-rsa.
    expect(() => ed25519PublicKeyFromLine(`ssh-ed25519 ${sshBlob(new Uint8Array(Buffer.from('ssh-rsa')), pub)}`))
      .toThrow(/its data holds a "ssh-rsa" key/);
    expect(() => ed25519PublicKeyFromLine(`ssh-ed25519 ${sshBlob(ED25519_TYPE, pub.subarray(0, 31))}`)).toThrow(/has 31/);
    expect(() => ed25519PublicKeyFromLine(`ssh-ed25519 ${sshBlob(ED25519_TYPE, pub, new Uint8Array(1))}`)).toThrow(/trailing bytes/);
    expect(() => ed25519PublicKeyFromLine(`ssh-ed25519 ${Buffer.from(ED25519_TYPE).toString('base64')}`)).toThrow(/truncated/);
    expect(() => ed25519PublicKeyFromLine('ssh-ed25519 not*base64')).toThrow(/not base64/);
  });

  test('rejects small-order points, which no age recipient can use', () => {
    for (const torsion of ED25519_TORSION_SUBGROUP) {
      const line = `ssh-ed25519 ${sshBlob(ED25519_TYPE, new Uint8Array(Buffer.from(torsion, 'hex')))}`;
      expect(() => sshPublicKeyToAgeRecipient(line)).toThrow(/small-order point/);
    }
  });

  test('rejects 32 bytes that are not a curve point', () => {
    // y = 2 has no x on edwards25519 (2 is not a valid y: (y²-1)/(dy²+1) is a non-square).
    const notOnCurve = new Uint8Array(32);
    notOnCurve[0] = 2;
    expect(() => ed25519.Point.fromHex(notOnCurve)).toThrow(); // the premise of this test
    expect(() => sshPublicKeyToAgeRecipient(`ssh-ed25519 ${sshBlob(ED25519_TYPE, notOnCurve)}`)).toThrow(/not a point on the curve/);
  });

  test('isAgeRecipient', () => {
    expect(isAgeRecipient('age17044m9wgakla6pzftf4srtl3h5mcsr85jysgt5fg23zpnta8sfdqhzn452')).toBe(true);
    expect(isAgeRecipient('age17044m9wgakla6pzftf4srtl3h5mcsr85jysgt5fg23zpnta8sfdqhzn453')).toBe(false); // checksum
    expect(isAgeRecipient('AGE17044M9WGAKLA6PZFTF4SRTL3H5MCSR85JYSGT5FG23ZPNTA8SFDQHZN452')).toBe(false); // age writes lower case
    expect(isAgeRecipient('age1...your-public-key...')).toBe(false);
  });
});

describeWithTools('against real ssh-keygen, age-keygen and age', () => {
  let dir: string;
  beforeAll(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'age-recipient-'));
  });
  afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

  /** A fresh ed25519 key pair from the real ssh-keygen (private half stays in the temp dir). */
  function newSshKey(name: string): { publicLine: string; privatePem: string } {
    const file = path.join(dir, name);
    execFileSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-C', `${name}@test`, '-f', file]);
    return { publicLine: fs.readFileSync(`${file}.pub`, 'utf8'), privatePem: fs.readFileSync(file, 'utf8') };
  }

  function ageKeygenRecipient(identity: string): string {
    return execFileSync('age-keygen', ['-y'], { input: `${identity}\n`, encoding: 'utf8' }).trim();
  }

  function writeIdentity(name: string, identity: string): string {
    const file = path.join(dir, `${name}.agekey`);
    fs.writeFileSync(file, `${identity}\n`, { mode: 0o600 });
    return file;
  }

  const KEYS = ['host-a', 'host-b', 'host-c', 'host-d'];

  test.each(KEYS)('%s: age-keygen -y of the converted private key gives our recipient', (name) => {
    const { publicLine, privatePem } = newSshKey(name);
    const recipient = sshPublicKeyToAgeRecipient(publicLine);
    expect(isAgeRecipient(recipient)).toBe(true);

    const seed = ed25519SeedFromOpenSshPrivateKey(privatePem);
    // The seed we parsed really is this key's: ed25519 derives the same public key from it.
    expect(bytesToHex(ed25519.getPublicKey(seed))).toBe(bytesToHex(ed25519PublicKeyFromLine(publicLine)));

    const identity = ed25519SeedToAgeIdentity(seed);
    expect(identity).toMatch(/^AGE-SECRET-KEY-1[0-9A-Z]{58}$/);
    expect(ageKeygenRecipient(identity)).toBe(recipient);
    // noble's own (clamped) private conversion is a second, independent derivation: same recipient.
    expect(ageKeygenRecipient(encodeAgeIdentity(edwardsToMontgomeryPriv(seed)))).toBe(recipient);
  });

  test('age encrypts to our recipient and decrypts with our identity; another key cannot decrypt', () => {
    const a = newSshKey('enc-a');
    const b = newSshKey('enc-b');
    const recipientA = sshPublicKeyToAgeRecipient(a.publicLine);
    const identityA = writeIdentity('enc-a', ed25519SeedToAgeIdentity(ed25519SeedFromOpenSshPrivateKey(a.privatePem)));
    const identityB = writeIdentity('enc-b', ed25519SeedToAgeIdentity(ed25519SeedFromOpenSshPrivateKey(b.privatePem)));
    const message = `secret for host a, ${Date.now()}\n`;
    const cipherFile = path.join(dir, 'message.age');
    execFileSync('age', ['-r', recipientA, '-o', cipherFile], { input: message });
    expect(fs.readFileSync(cipherFile).includes(Buffer.from('secret for host a'))).toBe(false);

    expect(execFileSync('age', ['-d', '-i', identityA, cipherFile], { encoding: 'utf8' })).toBe(message);
    const wrong = spawnSync('age', ['-d', '-i', identityB, cipherFile], { encoding: 'utf8' });
    expect(wrong.status).not.toBe(0);
    expect(wrong.stderr).toMatch(/no identity matched/);
  });

  test('the private-key parser refuses passphrase-protected and non-ed25519 keys', () => {
    const locked = path.join(dir, 'locked');
    execFileSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', 'correct horse', '-f', locked]);
    expect(() => ed25519SeedFromOpenSshPrivateKey(fs.readFileSync(locked, 'utf8'))).toThrow(/passphrase-protected/);
    const ecdsa = path.join(dir, 'ecdsa');
    execFileSync('ssh-keygen', ['-q', '-t', 'ecdsa', '-N', '', '-f', ecdsa]);
    expect(() => ed25519SeedFromOpenSshPrivateKey(fs.readFileSync(ecdsa, 'utf8'))).toThrow(/got a ecdsa-sha2-nistp256 private key/);
    expect(() => sshPublicKeyToAgeRecipient(fs.readFileSync(`${ecdsa}.pub`, 'utf8'))).toThrow(/only ssh-ed25519/);
  });
});
