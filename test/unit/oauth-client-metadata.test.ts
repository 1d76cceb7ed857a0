import { describe, expect, it } from 'vitest';
import { OAUTH_SCOPE, oauthClientMetadata } from '../../src/bluesky/oauth.ts';
import { loadConfig } from '../../src/config.ts';

describe('OAuth client metadata', () => {
  it('is a loopback client (redirect on 127.0.0.1) while PUBLIC_BASE_URL is local', () => {
    const m = oauthClientMetadata(loadConfig({ PUBLIC_BASE_URL: 'http://localhost:3000' }));
    expect(m.client_id).toMatch(/^http:\/\/localhost\?/);
    expect(m.redirect_uris).toEqual(['http://127.0.0.1:3000/v1/auth/bluesky/callback']);
    expect(m.scope).toBe(OAUTH_SCOPE);
  });

  it('is a public web client whose metadata meetflow serves, otherwise', () => {
    const m = oauthClientMetadata(loadConfig({
      PUBLIC_BASE_URL: 'https://meet.example.org', AUTH_JWT_SECRET: 'a-secret-for-this-test', SESSION_ENCRYPTION_KEYS: `k1:${Buffer.alloc(32, 1).toString('base64')}`,
    }));
    expect(m).toMatchObject({
      client_id: 'https://meet.example.org/oauth-client-metadata.json',
      redirect_uris: ['https://meet.example.org/v1/auth/bluesky/callback'],
      token_endpoint_auth_method: 'none', dpop_bound_access_tokens: true, scope: OAUTH_SCOPE,
    });
  });
});
