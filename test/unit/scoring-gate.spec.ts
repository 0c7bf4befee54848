import { scoringGate } from '../../src/jobs/prediction-writer';

// The predictions of an opened round are written while no other round of the process scores.
describe('the scoring gate prediction writes wait at', () => {
  it('lets a write through at once when no round scores', async () => {
    await expect(scoringGate.idle(60_000)).resolves.toBeUndefined();
  });

  it('holds a write until the last scoring round stops, leaving twice counting once', async () => {
    const first = scoringGate.enter();
    const second = scoringGate.enter();
    let through = false;
    const waiting = scoringGate.idle(60_000).then(() => (through = true));
    first();
    first();
    await new Promise((r) => setImmediate(r));
    expect(through).toBe(false);
    second();
    await waiting;
    expect(through).toBe(true);
  });

  it('lets a write through after its longest wait even while a round still scores', async () => {
    const leave = scoringGate.enter();
    try {
      await expect(scoringGate.idle(20)).resolves.toBeUndefined();
    } finally {
      leave();
    }
  });
});
