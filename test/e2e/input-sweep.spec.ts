import {
  getNullableType,
  isEnumType,
  isInputObjectType,
  isListType,
  isNonNullType,
  isObjectType,
  isScalarType,
  type GraphQLField,
  type GraphQLInputType,
} from 'graphql';
import { buildQuarrySchema } from '../../src/schema/build';
import { OWN_LENGTH_LIMIT } from '../../src/schema/input-guard';
import { INPUT_LIMITS } from '../../src/services/validate';
import { testModel } from '../helpers/models';
import { CLASSES, queueDataset } from '../helpers/queues';
import { codeOf, describeEachDb, type TestServer } from '../helpers/server';

type Path = (string | number)[];

/** A place in a field's arguments that holds a string (`text`) or a JSON value (`json`). */
interface Slot {
  path: Path;
  kind: 'text' | 'json';
}

const SPARE_UUID = '00000000-0000-4000-8000-000000000000';

function pathText(path: Path): string {
  return path.reduce<string>(
    (s, p) => (typeof p === 'number' ? `${s}[${p}]` : s ? `${s}.${p}` : p),
    '',
  );
}

function carriesText(type: GraphQLInputType, seen = new Set<string>()): boolean {
  const t = getNullableType(type);
  if (isListType(t)) return carriesText(t.ofType, seen);
  if (isScalarType(t)) return ['String', 'ID', 'JSON'].includes(t.name);
  if (!isInputObjectType(t) || seen.has(t.name)) return false;
  seen.add(t.name);
  return Object.values(t.getFields()).some((f) => carriesText(f.type, seen));
}

/**
 * A value of `type` that GraphQL accepts (not necessarily one the field would), with every place
 * that holds a string or JSON recorded in `slots`: required fields always, optional ones when
 * they carry text. Ids are the dataset's and model's where the name says so.
 */
function sample(
  type: GraphQLInputType,
  name: string,
  path: Path,
  slots: Slot[],
  ids: { d: string; m: string },
): unknown {
  const t = getNullableType(type);
  if (isListType(t)) return [sample(t.ofType, name, [...path, 0], slots, ids)];
  if (isInputObjectType(t)) {
    const value: Record<string, unknown> = {};
    for (const f of Object.values(t.getFields())) {
      if (!isNonNullType(f.type) && !carriesText(f.type)) continue;
      const v = sample(f.type, f.name, [...path, f.name], slots, ids);
      if (v !== undefined) value[f.name] = v;
    }
    return value;
  }
  if (isEnumType(t)) return t.getValues()[0].value;
  if (!isScalarType(t)) throw new Error(`unexpected input type ${String(t)}`);
  switch (t.name) {
    case 'String':
      slots.push({ path, kind: 'text' });
      return name === 'value' ? CLASSES[0] : 'ok';
    case 'ID':
      slots.push({ path, kind: 'text' });
      return name === 'datasetId' ? ids.d : name === 'modelId' ? ids.m : SPARE_UUID;
    case 'JSON':
      slots.push({ path, kind: 'json' });
      return {};
    case 'Int':
      return 1;
    case 'Float':
      return 0.5;
    case 'Boolean':
      return false;
    case 'DateTimeISO':
      return new Date().toISOString();
    case 'Upload':
      return undefined;
    default:
      throw new Error(`no sample for scalar ${t.name}`);
  }
}

function setAt(root: Record<string, unknown>, path: Path, value: unknown): void {
  let at: any = root;
  for (const p of path.slice(0, -1)) at = at[p];
  at[path[path.length - 1]] = value;
}

function nested(depth: number): unknown {
  let v: unknown = 'leaf';
  for (let i = 0; i < depth; i++) v = i % 2 ? [v] : { k: v };
  return v;
}

/** Stands for {@link DEEP_JSON} in variables: JSON.stringify cannot nest that deep itself. */
const DEEP = '__deep_json__';
/** JSON nested 10,000 deep, as text. */
const DEEP_JSON = '{"k":['.repeat(5_000) + '"leaf"' + ']}'.repeat(5_000);

/** Sends an operation as the admin, with {@link DEEP} in the variables written out as {@link DEEP_JSON}. */
async function send(t: TestServer, query: string, variables: Record<string, unknown>) {
  const body = JSON.stringify({ query, variables }).replace(`"${DEEP}"`, DEEP_JSON);
  const res = await fetch(t.url, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${t.adminKey}` },
    body,
  });
  return { status: res.status, ...((await res.json()) as object) } as Awaited<
    ReturnType<TestServer['gql']>
  >;
}

/** The bad values every string, and every JSON value, is tried with. */
function badValues(slot: Slot): { what: string; value: unknown; problem: RegExp }[] {
  if (slot.kind === 'text') {
    const bad = [
      { what: 'a lone surrogate', value: 'sur\ud800x', problem: /well-formed UTF-16/ },
      { what: 'a NUL character', value: 'a\u0000b', problem: /NUL/ },
    ];
    // A model file or a feature vector in base64 has a length limit of its own (model bytes,
    // the dataset's featureDim), checked by the service that takes it.
    if (!OWN_LENGTH_LIMIT.has(String(slot.path[slot.path.length - 1]))) {
      bad.push({
        what: 'too many characters',
        value: 'x'.repeat(INPUT_LIMITS.maxStringChars + 1),
        problem: /at most 10000 characters/,
      });
    }
    return bad;
  }
  return [
    { what: 'nesting 10,000 deep', value: DEEP, problem: /at most 32 deep/ },
    { what: 'a NUL in a string', value: { text: 'a\u0000b' }, problem: /NUL/ },
    { what: 'a NUL in a key', value: { ['a\u0000']: 1 }, problem: /key .*NUL/ },
    { what: 'a lone surrogate', value: ['\udc00'], problem: /well-formed UTF-16/ },
    {
      what: 'too many characters',
      value: { text: 'x'.repeat(INPUT_LIMITS.maxJsonChars) },
      problem: /at most 1000000 characters as JSON/,
    },
  ];
}

/** An operation calling `field` with every argument as a variable. */
function operation(kind: 'mutation' | 'query', field: GraphQLField<unknown, unknown>): string {
  const vars = field.args.map((a) => `$${a.name}: ${String(a.type)}`).join(', ');
  const args = field.args.map((a) => `${a.name}: $${a.name}`).join(', ');
  const returns = getNullableType(field.type);
  const inner = isListType(returns) ? getNullableType(returns.ofType) : returns;
  const selection = isObjectType(inner) || !isScalarType(inner) ? ' { __typename }' : '';
  return `${kind}(${vars}) { ${field.name}(${args})${selection} }`;
}

/** Rows of every table of the database (Quarry's and the job queue's). */
async function rowCounts(t: TestServer): Promise<Record<string, number>> {
  const tables: { name: string }[] = await t.sql(
    `SELECT quote_ident(table_schema) || '.' || quote_ident(table_name) AS name
     FROM information_schema.tables
     WHERE table_type = 'BASE TABLE' AND table_schema NOT IN ('pg_catalog', 'information_schema')
     ORDER BY 1`,
  );
  const [row] = await t.sql(
    `SELECT ${tables.map((x, i) => `(SELECT count(*)::int FROM ${x.name}) AS t${i}`).join(', ')}`,
  );
  return Object.fromEntries(tables.map((x, i) => [x.name, row[`t${i}`] as number]));
}

describeEachDb('strings and JSON refused cleanly everywhere', (t) => {
  let d: string;
  let m: string;

  beforeAll(async () => {
    d = await queueDataset(t(), 'sweep', { items: 10 });
    const { registerModel } = await t().ok(
      'mutation($d: ID!, $b: String!) { registerModel(datasetId: $d, name: "m", onnxBase64: $b) { id } }',
      { d, b: testModel({ featureDim: 4, classes: CLASSES.length }).toString('base64') },
    );
    m = registerModel.id;
  });

  it('refuses a bad string or JSON value in every argument of every mutation with BAD_USER_INPUT naming it, and writes nothing', async () => {
    const schema = await buildQuarrySchema();
    const mutations = Object.values(schema.getMutationType()!.getFields());
    expect(mutations.length).toBeGreaterThan(20);
    let tried = 0;
    const wrong: string[] = [];
    for (const field of mutations) {
      const slots: Slot[] = [];
      const base: Record<string, unknown> = {};
      for (const a of field.args) {
        const v = sample(a.type, a.name, [a.name], slots, { d, m });
        if (v !== undefined) base[a.name] = v;
      }
      if (slots.length === 0) continue;
      const before = await rowCounts(t());
      for (const slot of slots) {
        for (const bad of badValues(slot)) {
          const variables = structuredClone(base);
          setAt(variables, slot.path, bad.value);
          const res = await send(t(), operation('mutation', field), variables);
          tried++;
          const error = res.errors?.[0];
          const field0 = (error?.extensions?.problems as { field?: string }[] | undefined)?.[0]
            ?.field;
          const where = `${field.name} ${pathText(slot.path)} with ${bad.what}`;
          if (codeOf(res) !== 'BAD_USER_INPUT') {
            wrong.push(`${where}: ${codeOf(res)} ${error?.message.slice(0, 200)}`);
          } else if (field0 !== pathText(slot.path) || !bad.problem.test(error!.message)) {
            wrong.push(`${where}: names ${field0}: ${error!.message.slice(0, 200)}`);
          }
        }
      }
      const after = await rowCounts(t());
      if (JSON.stringify(after) !== JSON.stringify(before))
        wrong.push(`${field.name} wrote rows: ${JSON.stringify({ before, after })}`);
    }
    expect(wrong).toEqual([]);
    expect(tried).toBeGreaterThan(150);
  }, 300_000);

  it('refuses the same in the arguments of every query', async () => {
    const schema = await buildQuarrySchema();
    const wrong: string[] = [];
    for (const field of Object.values(schema.getQueryType()!.getFields())) {
      const slots: Slot[] = [];
      const base: Record<string, unknown> = {};
      for (const a of field.args) {
        const v = sample(a.type, a.name, [a.name], slots, { d, m });
        if (v !== undefined) base[a.name] = v;
      }
      for (const slot of slots) {
        const variables = structuredClone(base);
        setAt(variables, slot.path, slot.kind === 'text' ? 'a\u0000b' : nested(100));
        const res = await t().gql(operation('query', field), variables);
        if (codeOf(res) !== 'BAD_USER_INPUT')
          wrong.push(`${field.name} ${pathText(slot.path)}: ${codeOf(res)}`);
      }
    }
    expect(wrong).toEqual([]);
  });

  it('refuses an external id with a lone surrogate without storing the item, and takes the corrected one', async () => {
    const IMPORT = `mutation($d: ID!, $items: [ImportItemInput!]!) {
      importItems(datasetId: $d, items: $items) { importedCount } }`;
    const item = (externalId: string) => ({ externalId, features: [0, 0, 0, 1] });
    const res = await t().gql(IMPORT, { d, items: [item('fine-1'), item('sur\ud800x')] });
    expect(codeOf(res)).toBe('BAD_USER_INPUT');
    expect(res.errors![0].message).toMatch(/^items\[1\]\.externalId must be well-formed UTF-16/);
    const stored = await t().sql(
      `SELECT external_id FROM item WHERE dataset_id = $1 AND (external_id LIKE 'sur%' OR external_id = 'fine-1')`,
      [d],
    );
    expect(stored).toEqual([]);
    const retried = await t().ok(IMPORT, { d, items: [item('fine-1'), item('surx')] });
    expect(retried.importItems.importedCount).toBe(2);
  });

  it('refuses a labelQueue cursor holding a number too large for it', async () => {
    const QUEUE =
      'query($d: ID!, $a: String) { labelQueue(datasetId: $d, after: $a) { totalCount } }';
    const cursor = (t: string, k: string) =>
      Buffer.from(`lq:${t}:${SPARE_UUID}:${k}`).toString('base64url');
    for (const after of [
      cursor('1', '99999999999999999999'),
      cursor('99999999999999999999999', '1'),
      cursor('1', '2147483648'),
    ]) {
      const res = await t().gql(QUEUE, { d, a: after });
      expect(codeOf(res)).toBe('BAD_USER_INPUT');
      expect(res.errors![0].message).toMatch(/is not a cursor of this queue/);
    }
    // The largest valid numbers are cursors still.
    const res = await t().gql(QUEUE, { d, a: cursor('1', '2147483647') });
    expect(res.errors).toBeUndefined();
  });
});
