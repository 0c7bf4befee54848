import { spawnSync } from 'node:child_process';
import { readAhead } from '../../src/jobs/read-ahead';

describe('readAhead', () => {
  it('starts reading the next item while the consumer works on the current one', async () => {
    const started: number[] = [];
    async function* source() {
      for (let i = 0; i < 3; i++) {
        started.push(i);
        yield i;
      }
    }
    const seen: number[] = [];
    for await (const v of readAhead(source())) {
      expect(started).toContain(v + 1 < 3 ? v + 1 : v);
      seen.push(v);
    }
    expect(seen).toEqual([0, 1, 2]);
  });

  it('hands a read that fails while the consumer is busy to the consumer, not to the process', () => {
    // In a process of its own: Node 20 ends a process on an unhandled rejection, which jest's
    // own handlers would hide.
    const script = `
      const { readAhead } = require(${JSON.stringify(require.resolve('../../src/jobs/read-ahead'))});
      async function* source() { yield 1; throw new Error('the connection was reset'); }
      (async () => {
        try {
          for await (const _ of readAhead(source())) await new Promise((r) => setTimeout(r, 50));
        } catch (e) {
          console.log('consumer saw: ' + e.message);
        }
      })();
    `;
    const run = spawnSync(process.execPath, ['-e', script], { encoding: 'utf8' });
    expect(run.stderr).toBe('');
    expect(run.status).toBe(0);
    expect(run.stdout.trim()).toBe('consumer saw: the connection was reset');
  });
});
