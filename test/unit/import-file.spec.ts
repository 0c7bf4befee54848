import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import {
  detectFormat,
  FileFormatError,
  readItems,
  type FileItem,
  type ReadOptions,
} from '../../src/cli/import-file';

let dir: string;
beforeAll(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'quarry-import-'));
});
afterAll(() => {
  fs.rmSync(dir, { recursive: true, force: true });
});

let files = 0;
/** Writes `text` to a new temporary file with the given extension. */
function file(ext: string, text: string): string {
  const p = path.join(dir, `f${++files}${ext}`);
  fs.writeFileSync(p, text);
  return p;
}

async function read(p: string, opts: ReadOptions = {}): Promise<FileItem[]> {
  const items: FileItem[] = [];
  for await (const item of readItems(p, opts)) items.push(item);
  return items;
}

/** The error reading fails with, failing the test when it does not fail. */
async function failure(p: string, opts: ReadOptions = {}): Promise<FileFormatError> {
  try {
    await read(p, opts);
  } catch (e) {
    expect(e).toBeInstanceOf(FileFormatError);
    return e as FileFormatError;
  }
  throw new Error('expected reading to fail');
}

function floats(b64: string): number[] {
  const bytes = Buffer.from(b64, 'base64');
  return Array.from(new Float32Array(bytes.buffer, bytes.byteOffset, bytes.length / 4));
}

/** Items with their features decoded, to compare with what the file says. */
function decoded(items: FileItem[]) {
  return items.map(({ featuresBase64, ...rest }) => ({
    ...rest,
    features: floats(featuresBase64),
  }));
}

describe('detectFormat', () => {
  it.each([
    ['data.csv', 'csv'],
    ['DATA.CSV', 'csv'],
    ['dir.v2/rows.jsonl', 'jsonl'],
    ['rows.ndjson', 'jsonl'],
  ])('tells %s is %s from its name', (name, format) => {
    expect(detectFormat(name)).toBe(format);
  });

  it('lets --format override the name', () => {
    expect(detectFormat('rows.txt', 'jsonl')).toBe('jsonl');
    expect(detectFormat('rows.jsonl', 'csv')).toBe('csv');
  });

  it('refuses a name it cannot tell, naming the file and the option to pass', () => {
    expect(() => detectFormat('rows.txt')).toThrow(FileFormatError);
    expect(() => detectFormat('rows.txt')).toThrow(
      'Cannot tell the format of rows.txt from its name; pass --format csv or --format jsonl.',
    );
  });

  it('refuses an unknown --format', () => {
    expect(() => detectFormat('rows.csv', 'xml')).toThrow('--format must be csv or jsonl; got xml');
  });
});

describe('reading a CSV file', () => {
  it('takes id, label and split from their columns and every other column as a feature', async () => {
    const p = file('.csv', 'id,f1,label,f2,split\na,1,cat,2.5,pool\nb,-3,,0.125,Test\n');
    expect(decoded(await read(p))).toEqual([
      { externalId: 'a', label: 'cat', split: 'POOL', features: [1, 2.5] },
      { externalId: 'b', split: 'TEST', features: [-3, 0.125] },
    ]);
  });

  it('numbers the items by row when there is no id column', async () => {
    const p = file('.csv', 'x,y\n1,2\n\n3,4\n');
    expect(decoded(await read(p))).toEqual([
      { externalId: '1', features: [1, 2] },
      { externalId: '2', features: [3, 4] },
    ]);
  });

  it('uses the columns it is told to, and copies payload columns into the payload', async () => {
    const p = file('.csv', 'key,text,klass,part,a,b,c\nk1,hello,dog,VALIDATION,1,2,3\n');
    const items = await read(p, {
      idColumn: 'key',
      labelColumn: 'klass',
      splitColumn: 'part',
      payloadColumns: ['text'],
      featureColumns: ['c', 'a'],
    });
    expect(decoded(items)).toEqual([
      {
        externalId: 'k1',
        label: 'dog',
        split: 'VALIDATION',
        payload: { text: 'hello' },
        features: [3, 1],
      },
    ]);
  });

  it('leaves payload columns out of the features', async () => {
    const p = file('.csv', 'id,url,f\nz,http://x/1.png,7\n');
    expect(decoded(await read(p, { payloadColumns: ['url'] }))).toEqual([
      { externalId: 'z', payload: { url: 'http://x/1.png' }, features: [7] },
    ]);
  });

  it('drops the labels with --no-labels and still keeps the label column out of the features', async () => {
    const p = file('.csv', 'id,label,f1,f2\na,cat,1,2\n');
    expect(decoded(await read(p, { labels: false }))).toEqual([
      { externalId: 'a', features: [1, 2] },
    ]);
  });

  it.each([
    ['a word', 'abc'],
    ['an empty cell', ''],
    ['infinity', 'Infinity'],
    ['NaN', 'NaN'],
  ])('refuses %s in a feature column, naming the line, row and column', async (_what, cell) => {
    const p = file('.csv', `id,f1,f2\na,1,2\nb,3,4\nc,5,${cell}\n`);
    const e = await failure(p);
    expect(e.message).toBe(
      `${p} line 4 (data row 3): column f2 is ${JSON.stringify(cell)}, not a finite number.`,
    );
  });

  it('counts lines past blank lines when it names the bad one', async () => {
    const p = file('.csv', 'id,f\na,1\n\n\nb,x\n');
    expect((await failure(p)).message).toContain('line 5 (data row 2)');
  });

  it.each([
    ['--id-column', { idColumn: 'key' }],
    ['--label-column', { labelColumn: 'klass' }],
    ['--split-column', { splitColumn: 'part' }],
    ['--payload-columns', { payloadColumns: ['text'] }],
    ['--feature-columns', { featureColumns: ['f1', 'f9'] }],
  ])('refuses a %s the file does not have, naming it', async (option, opts) => {
    const p = file('.csv', 'id,f1\na,1\n');
    const e = await failure(p, opts as ReadOptions);
    expect(e.message).toMatch(new RegExp(`has no column ".+" \\(${option}\\)`));
  });

  it('refuses a file with no feature columns', async () => {
    const p = file('.csv', 'id,label\na,cat\n');
    expect((await failure(p)).message).toBe(`${p} has no feature columns.`);
  });
});

describe('reading a JSONL file', () => {
  it('takes externalId, features, payload, label and split from each line', async () => {
    const p = file(
      '.jsonl',
      [
        '{"externalId":"a","features":[1,2],"payload":{"text":"hi"},"label":"cat","split":"test"}',
        '',
        '{"id":"b","featuresBase64":"AACAPwAAAEA=","label":3}',
        '{"features":[0.5,-1]}',
      ].join('\n'),
    );
    expect(decoded(await read(p))).toEqual([
      { externalId: 'a', payload: { text: 'hi' }, label: 'cat', split: 'TEST', features: [1, 2] },
      { externalId: 'b', label: '3', features: [1, 2] },
      { externalId: '4', features: [0.5, -1] },
    ]);
  });

  it('uses the fields it is told to, and drops labels with --no-labels', async () => {
    const p = file('.ndjson', '{"key":"k","klass":"dog","part":"pool","features":[1]}\n');
    expect(
      decoded(await read(p, { idColumn: 'key', labelColumn: 'klass', splitColumn: 'part' })),
    ).toEqual([{ externalId: 'k', label: 'dog', split: 'POOL', features: [1] }]);
    expect(decoded(await read(p, { idColumn: 'key', labels: false }))).toEqual([
      { externalId: 'k', features: [1] },
    ]);
  });

  it.each([
    ['a string', '"1"', '"1"'],
    ['null', 'null', 'null'],
    ['a boolean', 'true', 'true'],
    ['a number too large for a double', '1e999', 'Infinity'],
  ])('refuses %s among the features, naming the line', async (_what, value, shown) => {
    const p = file('.jsonl', `{"id":"a","features":[1,2]}\n{"id":"b","features":[3,${value}]}\n`);
    expect((await failure(p)).message).toBe(
      `${p} line 2: features[1] is ${shown}, not a finite number.`,
    );
  });

  it('refuses a line that is not JSON, naming it', async () => {
    const p = file('.jsonl', '{"features":[1]}\n{"features":[1]\n');
    expect((await failure(p)).message).toBe(`${p} line 2 is not valid JSON.`);
  });

  it.each(['null', '[1, 2]', '7'])('refuses a line holding %s instead of an object', async (v) => {
    const p = file('.jsonl', `{"features":[1]}\n${v}\n`);
    expect((await failure(p)).message).toBe(`${p} line 2 is not a JSON object.`);
  });

  it('refuses a line without features', async () => {
    const p = file('.jsonl', '{"id":"a","features":"1,2"}\n');
    expect((await failure(p)).message).toBe(
      `${p} line 1 has neither features (a list) nor featuresBase64.`,
    );
  });
});
