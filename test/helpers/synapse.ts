const url = () => process.env.MATRIX_HOMESERVER_URL!;

/** Synapse's own view of a room (admin API): its name, or null once it is deleted and purged. */
export async function synapseRoom(roomId: string): Promise<{ name: string | null; joined_members: number } | null> {
  const res = await fetch(`${url()}/_synapse/admin/v1/rooms/${encodeURIComponent(roomId)}`, {
    headers: { Authorization: `Bearer ${process.env.MATRIX_ACCESS_TOKEN}` },
  });
  if (res.status === 404) return null;
  if (!res.ok) throw new Error(`synapse admin: ${res.status} ${await res.text()}`);
  return res.json() as Promise<{ name: string | null; joined_members: number }>;
}
