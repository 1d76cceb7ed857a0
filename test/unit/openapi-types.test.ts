import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { apiTypes, TYPES_FILE } from '../../scripts/openapi-types.ts';

describe('the typed API client of the benchmarks', () => {
  it('is generated from the current OpenAPI document (run `npm run openapi:types` after changing a route)', async () => {
    expect(await apiTypes()).toBe(readFileSync(TYPES_FILE, 'utf8'));
  }, 60_000);
});
