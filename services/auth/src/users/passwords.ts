import { hash, verify } from '@node-rs/argon2';

// Algorithm.Argon2id (a const enum that isolated modules cannot read)
const argon2id = 2;

/** argon2id with OWASP's minimum (19 MiB, 2 passes, 1 lane): ~40 ms a hash on these machines. */
const options = { algorithm: argon2id, memoryCost: 19_456, timeCost: 2, parallelism: 1 } as const;

export function hashPassword(password: string): Promise<string> {
  return hash(password, options);
}

// verified against when the email is unknown, so both failures take the same time
const decoy = hash('not-a-real-password-just-timing', options);

export async function verifyPassword(passwordHash: string | null | undefined, password: string): Promise<boolean> {
  if (!passwordHash) {
    await verify(await decoy, password).catch(() => false);
    return false;
  }
  try {
    return await verify(passwordHash, password);
  } catch {
    return false;
  }
}
