/**
 * The simulator's format rules, checked without root: SSH key fingerprints
 * against ssh-keygen's own MD5 fingerprint, and Hetzner's label rules.
 */
import { spawnSync } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { labelProblem, md5Fingerprint } from './hetzner';
import { onPath } from '../../support/process';

const haveKeygen = onPath('ssh-keygen');
const keygenTest = haveKeygen || process.env.CI === 'true' ? test : test.skip;

describe('Hetzner simulator formats', () => {
  keygenTest('SSH key fingerprints are the MD5 ssh-keygen prints (what Hetzner shows and compares)', () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'fp-'));
    for (const type of ['ed25519', 'rsa']) {
      const key = path.join(dir, type);
      expect(spawnSync('ssh-keygen', ['-q', '-t', type, '-N', '', '-C', 'someone@example', '-f', key]).status).toBe(0);
      const pub = fs.readFileSync(`${key}.pub`, 'utf8');
      const printed = spawnSync('ssh-keygen', ['-l', '-E', 'md5', '-f', `${key}.pub`], { encoding: 'utf8' }).stdout;
      expect(`MD5:${md5Fingerprint(pub)}`).toBe(printed.split(' ')[1]);
      // the comment does not take part; a mangled blob is no key
      expect(md5Fingerprint(pub.replace('someone@example', 'other'))).toBe(md5Fingerprint(pub));
      expect(md5Fingerprint(pub.replace(/ AAAA/, ' BBBB'))).toBeUndefined();
    }
    fs.rmSync(dir, { recursive: true, force: true });
  });

  test('labels: keys with an optional DNS prefix, values empty or label-shaped, hetzner.cloud reserved', () => {
    expect(labelProblem('fleet', 'demo')).toBeUndefined();
    expect(labelProblem('web', '')).toBeUndefined();
    expect(labelProblem('example.com/role', 'db_primary-1')).toBeUndefined();
    expect(labelProblem('-web', '')).toMatch(/invalid/);
    expect(labelProblem('web', 'has space')).toMatch(/invalid/);
    expect(labelProblem('a'.repeat(64), '')).toMatch(/invalid/);
    expect(labelProblem('Example.com/role', 'x')).toMatch(/prefix/);
    expect(labelProblem('hetzner.cloud/thing', 'x')).toMatch(/reserved/);
    expect(labelProblem('web', 3 as unknown as string)).toMatch(/string/);
  });
});
