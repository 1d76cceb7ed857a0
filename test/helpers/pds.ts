import { AtpAgent } from '@atproto/api';
import { TestNetworkNoAppView } from '@atproto/dev-env';
import { freePorts } from '../../scripts/free-ports.ts';
import { startStack, type Stack } from './stack.ts';

export const PASSWORD = 'pw-123456';

/** A real PDS and PLC in-process, on ports outside the ephemeral range (see scripts/free-ports.ts). */
export async function testNetwork() {
  const [plc, pds] = await freePorts(2);
  return TestNetworkNoAppView.create({ plc: { port: plc }, pds: { port: pds } });
}

/**
 * A real PDS and PLC in-process (@atproto/dev-env) and a stack whose Bluesky settings point at
 * them, with its worker running. `env` adds settings that depend on the network (e.g. its firehose).
 */
export async function startPdsStack(env: (net: TestNetworkNoAppView) => Record<string, string> = () => ({})) {
  const net = await testNetwork();
  const s = await startStack({ BLUESKY_SERVICE: net.pds.url, BLUESKY_PLC_URL: net.plc.url, ...env(net) });
  await s.startWorker();
  return { net, s };
}

/** A new account on the local PDS; the agent is signed in as it. */
export async function pdsAccount(net: TestNetworkNoAppView, handle: string, password = PASSWORD): Promise<AtpAgent> {
  const agent = new AtpAgent({ service: net.pds.url });
  await agent.createAccount({ handle, email: `${handle}@test.com`, password });
  return agent;
}

/** `POST /v1/auth/bluesky/app-password`; with a meetflow token the caller links (or claims) that account. */
export function appPasswordLogin(s: Stack, identifier: string, password = PASSWORD, token?: string) {
  return s.api('POST', '/v1/auth/bluesky/app-password', { token, body: { identifier, password } });
}
