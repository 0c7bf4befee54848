import { parseCsv, parseJsonLines } from '@quarry/client';

async function* chunksOf(text: string, size: number): AsyncGenerator<Uint8Array> {
  const bytes = new TextEncoder().encode(text);
  for (let i = 0; i < bytes.length; i += size) yield bytes.subarray(i, i + size);
}

async function all<T>(it: AsyncIterable<T>): Promise<T[]> {
  const out: T[] = [];
  for await (const x of it) out.push(x);
  return out;
}

describe('client SDK stream parsers', () => {
  const csv = 'id,text,n\r\n1,"a, ""quoted"" word",3\n2,"two\nlines",4\n\n3,é,5';

  it('parses CSV with quotes, line breaks in fields and multi-byte characters split across chunks', async () => {
    for (const size of [1, 2, 7, 1000]) {
      expect(await all(parseCsv(chunksOf(csv, size)))).toEqual([
        { id: '1', text: 'a, "quoted" word', n: '3' },
        { id: '2', text: 'two\nlines', n: '4' },
        { id: '3', text: 'é', n: '5' },
      ]);
    }
  });

  it('parses JSON Lines, skipping blank lines, and names the line that is not JSON', async () => {
    const jsonl = '{"externalId":"a","features":[1]}\n\n{"externalId":"b"}';
    expect(await all(parseJsonLines(chunksOf(jsonl, 3)))).toEqual([
      { externalId: 'a', features: [1] },
      { externalId: 'b' },
    ]);
    await expect(all(parseJsonLines(chunksOf('{"a":1}\n{oops}\n', 4)))).rejects.toThrow(
      'line 2 is not JSON',
    );
  });
});
