/**
 * Splits events (in global order) into waves so that no two events of one stream share a wave:
 * an event goes one wave after the previous event of its stream. Waves are published one after the
 * other, so a stream's events are published in order, while a wave's batches can go out together.
 */
export function planWaves<E extends { streamId: string }>(events: readonly E[], batchSize: number): E[][][] {
  const waveOfStream = new Map<string, number>();
  const waves: E[][] = [];
  for (const event of events) {
    const wave = (waveOfStream.get(event.streamId) ?? -1) + 1;
    waveOfStream.set(event.streamId, wave);
    (waves[wave] ??= []).push(event);
  }
  return waves.map((wave) => {
    const batches: E[][] = [];
    for (let i = 0; i < wave.length; i += batchSize) batches.push(wave.slice(i, i + batchSize));
    return batches;
  });
}

/** How many leading events (in the given order) are done: the checkpoint may move past exactly these. */
export function donePrefixLength<E>(events: readonly E[], isDone: (event: E) => boolean): number {
  let n = 0;
  while (n < events.length && isDone(events[n]!)) n++;
  return n;
}
