import { request } from 'node:http';

/**
 * Signs in and consents on a local PDS's OAuth provider the way its own web page does (its
 * internal `~api` endpoints: same-origin fetches with a CSRF cookie and header), without a
 * browser. Answers the parameters the provider sends back to the client's redirect URI.
 * Test-only: these endpoints are the provider UI's, not a stable contract. (node:http, because
 * fetch always sends its own `sec-fetch-mode: cors`.)
 */
export async function signInAndConsent(authorizeUrl: string, account: { username: string; password: string }): Promise<URLSearchParams> {
  const authorize = new URL(authorizeUrl);
  const jar = new Map<string, string>();
  const keep = (setCookies: string[] = []) => {
    for (const c of setCookies) {
      const [pair] = c.split(';');
      const i = pair.indexOf('=');
      jar.set(pair.slice(0, i), pair.slice(i + 1));
    }
  };
  keep((await send(authorize, 'GET', {})).cookies);
  const call = async (endpoint: string, body: unknown, bearer?: string) => {
    const res = await send(new URL(`/@atproto/oauth-provider/~api${endpoint}`, authorize), 'POST', {
        'content-type': 'application/json', origin: authorize.origin, referer: authorize.href,
        'sec-fetch-mode': 'same-origin', 'sec-fetch-site': 'same-origin',
        cookie: [...jar].map(([k, v]) => `${k}=${v}`).join('; '), 'x-csrf-token': jar.get('csrf-token') ?? '',
        ...(bearer ? { authorization: `Bearer ${bearer}` } : {}),
    }, JSON.stringify(body));
    keep(res.cookies);
    const json = JSON.parse(res.body) as Record<string, any>;
    if (res.status !== 200) throw new Error(`${endpoint}: ${res.status} ${res.body}`);
    return json;
  };
  const { account: signedIn, ephemeralToken } = await call('/sign-in', { locale: 'en', ...account, remember: false });
  const { url } = await call('/consent', { did: signedIn.did }, ephemeralToken);
  const redirect = new URL(url);
  const params = new URLSearchParams();
  for (const key of ['state', 'iss', 'code', 'error', 'error_description']) {
    const v = redirect.searchParams.get(key);
    if (v !== null) params.set(key, v);
  }
  return params;
}

function send(url: URL, method: string, headers: Record<string, string>, body?: string) {
  return new Promise<{ status: number; cookies?: string[]; body: string }>((resolve, reject) => {
    const req = request(url, { method, headers }, (res) => {
      let text = '';
      res.setEncoding('utf8').on('data', (d) => { text += d; }).on('end', () => resolve({ status: res.statusCode!, cookies: res.headers['set-cookie'], body: text }));
    });
    req.on('error', reject).end(body);
  });
}

/** The `Cookie` header a browser would send back to meetflow after the login redirect (its nonce cookie). */
export function browserCookie(loginStart: Response): string {
  const set = loginStart.headers.get('set-cookie') ?? '';
  const nonce = /meetflow_oauth_nonce=[^;]+/.exec(set)?.[0];
  if (!nonce) throw new Error(`no nonce cookie in ${set}`);
  return nonce;
}
