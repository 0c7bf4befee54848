import { waitFor } from '../helpers/wait-for';

describe('waitFor', () => {
  it('resolves with the first value the predicate accepts, probing until then', async () => {
    let probes = 0;
    const value = await waitFor(async () => ++probes, {
      until: (n) => n === 3,
      intervalMs: 1,
      what: 'the third probe',
    });

    expect(value).toBe(3);
    expect(probes).toBe(3);
  });

  it('waits for a truthy value when no predicate is given', async () => {
    const values = [0, null, '', 'ready'];

    expect(await waitFor(() => values.shift(), { intervalMs: 1, what: 'a value' })).toBe('ready');
  });

  it('fails after the timeout, naming what it awaited and the last value seen', async () => {
    let probes = 0;
    const waiting = waitFor(() => ({ status: 'SCORING', probe: ++probes }), {
      until: (r) => r.status === 'OPEN',
      timeoutMs: 50,
      intervalMs: 10,
      what: 'round 7 to open',
    });

    await expect(waiting).rejects.toThrow(
      /^timed out after 50 ms waiting for round 7 to open; last value: \{ status: 'SCORING', probe: \d+ \}$/,
    );
    expect(probes).toBeGreaterThan(1);
  });

  it('shortens a long last value in its message', async () => {
    const waiting = waitFor(() => 'x'.repeat(10_000), {
      until: () => false,
      timeoutMs: 5,
      what: 'nothing',
    });

    const error: Error = await waiting.catch((e) => e);
    expect(error.message.length).toBeLessThan(2_200);
    expect(error.message.endsWith('…')).toBe(true);
  });

  it('rejects at once with the error the probe throws, probing no more', async () => {
    let probes = 0;
    const waiting = waitFor(
      () => {
        probes += 1;
        throw new Error('round ended FAILED');
      },
      { timeoutMs: 1_000, intervalMs: 1, what: 'round 7 to open' },
    );

    await expect(waiting).rejects.toThrow('round ended FAILED');
    expect(probes).toBe(1);
  });

  it('refuses a timeout or an interval that is not positive', async () => {
    await expect(waitFor(() => true, { timeoutMs: 0, what: 'x' })).rejects.toThrow(
      'options.timeoutMs must be positive, got 0',
    );
    await expect(waitFor(() => true, { intervalMs: -1, what: 'x' })).rejects.toThrow(
      'options.intervalMs must be positive, got -1',
    );
  });
});
