// A local PDS and PLC (@atproto/dev-env) in a process of their own, for the firehose benchmarks:
// the relay a consumer reads is never in its own process. Prints {"pds","plc"} as one line; on a
// line "head" prints the latest sequence number; exits when its stdin closes.
import { createInterface } from 'node:readline';
import { TestNetworkNoAppView } from '@atproto/dev-env';

const net = await TestNetworkNoAppView.create({});
console.log(JSON.stringify({ pds: net.pds.url, plc: net.plc.url }));
const lines = createInterface({ input: process.stdin });
lines.on('line', (line) => {
  if (line === 'head') void net.pds.ctx.sequencer.curr().then((seq) => console.log(String(seq)));
});
lines.on('close', () => { void net.close().then(() => process.exit(0)); });
