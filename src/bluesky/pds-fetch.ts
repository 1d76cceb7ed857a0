/** A PDS's answer is read up to this: a page of 100 records, each well under a megabyte. */
const MAX_PDS_ANSWER_BYTES = 32 * 1024 * 1024;
/** ... and must be whole within this. */
const PDS_ANSWER_TIMEOUT_MS = 60_000;

/** A PDS answered with more than MAX_PDS_ANSWER_BYTES: cut off unread; asking again meets the same. */
export class PdsAnswerTooLarge extends Error {
  override name = 'PdsAnswerTooLarge';
}

/** The PdsAnswerTooLarge behind an error, if any (the agent wraps what its fetch throws). */
export function answerTooLarge(err: unknown): PdsAnswerTooLarge | undefined {
  for (let e = err; e instanceof Error; e = e.cause) if (e instanceof PdsAnswerTooLarge) return e;
  return undefined;
}

const NULL_BODY = new Set([101, 204, 205, 304]);

/**
 * fetch for the agents that call a user's PDS (a server anyone may run: untrusted). The agent read
 * a whole answer, however long, into memory: one PDS answering without end filled the worker's
 * heap, and each retry did it again. Here an answer is read up to MAX_PDS_ANSWER_BYTES (a longer
 * one: PdsAnswerTooLarge) and must be whole within PDS_ANSWER_TIMEOUT_MS (a PDS that drips it:
 * a TimeoutError, a passing failure).
 */
export const pdsFetch: typeof fetch = async (input, init) => {
  const signal = AbortSignal.any([AbortSignal.timeout(PDS_ANSWER_TIMEOUT_MS), ...(init?.signal ? [init.signal] : [])]);
  const res = await fetch(input, { ...init, signal });
  if (!res.body || NULL_BODY.has(res.status)) return res;
  const tooLarge = () => new PdsAnswerTooLarge(`${new URL(res.url).origin} answered with more than ${MAX_PDS_ANSWER_BYTES} bytes`);
  if (Number(res.headers.get('content-length')) > MAX_PDS_ANSWER_BYTES) {
    await res.body.cancel();
    throw tooLarge();
  }
  const chunks: Uint8Array[] = [];
  let size = 0;
  for await (const chunk of res.body) {
    size += chunk.byteLength;
    if (size > MAX_PDS_ANSWER_BYTES) throw tooLarge(); // leaving the loop cancels the stream: the connection closes
    chunks.push(chunk);
  }
  return new Response(Buffer.concat(chunks), { status: res.status, statusText: res.statusText, headers: res.headers });
};
