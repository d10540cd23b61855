import { describe, expect, it } from 'vitest';
import { describeDatabaseUrl } from '#simulator/bench/e2e-stack.ts';

describe('the bench names the database it ran on', () => {
  it('names a TCP host and database, and never the password', () => {
    const label = describeDatabaseUrl('postgres://vicino:s3cret@db.example:5433/vicino');
    expect(label).toBe('db.example:5433/vicino');
    expect(label).not.toContain('s3cret');
  });

  it('names a Unix socket directory given as the host or as ?host=', () => {
    expect(describeDatabaseUrl('postgres://postgres@%2Fvar%2Frun%2Fpostgresql/test')).toBe('Unix socket /var/run/postgresql, database test');
    expect(describeDatabaseUrl('postgres:///test?host=/var/run/postgresql')).toBe('Unix socket /var/run/postgresql, database test');
  });
});
