import type { SqlStatement } from '../../src/db/sql/statement';
import * as queries from '../../src/db/sql/queries.sql';
import * as slots from '../../src/db/sql/slots.sql';
import * as answers from '../../src/db/sql/answers.sql';
import * as rateLimits from '../../src/db/sql/rate-limits.sql';
import { mostFrequent } from '../../src/services/queue-answer.service';

const DATASET = '3f8e0a62-1b2c-4d5e-8f90-0123456789ab';
const ROUND = '9a1b2c3d-4e5f-4a6b-8c7d-0123456789ef';
const ANNOTATOR = "o'brien; DROP TABLE label --";
const TOKEN = '11111111-2222-4333-8444-555555555555';

/** Every statement of the queue's SQL layer, built with values that must never reach the text. */
const statements: [string, SqlStatement][] = [
  ['queuePage', queries.queuePage(DATASET, 51)],
  [
    'queuePage after a cursor',
    queries.queuePage(DATASET, 51, { t: '1700000000000000', r: ROUND, k: 7 }),
  ],
  ['openQueryCount', queries.openQueryCount(DATASET)],
  ['queriesByIds', queries.queriesByIds(['41', '42'])],
  ['queryWithClasses', queries.queryWithClasses('41')],
  ['lockQueryStatus', queries.lockQueryStatus('41')],
  ['answerQuery', queries.answerQuery('41', 3)],
  ['settleQuery', queries.settleQuery('41', 'ANSWERED', 3, ['quarry_events', '{"x":1}'])],
  ['lockAnnotatorClaims', slots.lockAnnotatorClaims(DATASET, ANNOTATOR)],
  ['freeSlots', slots.freeSlots(DATASET, ANNOTATOR, 9)],
  ['takeSlots', slots.takeSlots(['5', '6'], DATASET, ANNOTATOR, 300)],
  ['lockClaimsOfDataset', slots.lockClaimsOfDataset(DATASET, ANNOTATOR)],
  [
    'claimFreeSlots',
    slots.claimFreeSlots({
      datasetId: DATASET,
      annotatorId: ANNOTATOR,
      read: 3,
      take: 1,
      apiKeyId: DATASET,
      leaseSeconds: 300,
      channel: 'quarry_events',
      event: '{"x":"blurry"}',
    }),
  ],
  ['slotForAnswer', answers.slotForAnswer(TOKEN)],
  [
    'answerAlone',
    answers.answerAlone({
      slotId: '5',
      queryId: '41',
      datasetId: DATASET,
      itemId: '7',
      classIndex: 2,
      apiKeyId: DATASET,
      annotatorId: ANNOTATOR,
      notify: ['quarry_events', '{"x":"blurry"}'],
      webhookBodies: ['blurry', 'blurry'],
      idempotency: { key: ANNOTATOR, requestHash: 'h', response: '{}' },
    }),
  ],
  ['addToCounters', rateLimits.addToCounters([ANNOTATOR], [1], [5], 4)],
  ['renewLease', slots.renewLease('5', 300)],
  ['heldSlot', slots.heldSlot(TOKEN)],
  ['heldSlotWithQuery', slots.heldSlotWithQuery(TOKEN)],
  ['freeSlot', slots.freeSlot('5')],
  ['insertSkip', slots.insertSkip('41', DATASET, DATASET, ANNOTATOR, 'blurry')],
  ['recordAnswer', slots.recordAnswer('5', 2)],
  ['answersOfQuery', slots.answersOfQuery('41')],
  ['answersByQueryIds', slots.answersByQueryIds(['41'])],
  ['progressByQueryIds', slots.progressByQueryIds(['41'])],
  ['agreementByAnnotator', slots.agreementByAnnotator(DATASET)],
];

function placeholders(text: string): number[] {
  return [...new Set([...text.matchAll(/\$(\d+)/g)].map((m) => Number(m[1])))].sort(
    (a, b) => a - b,
  );
}

describe('the label queue statements', () => {
  it.each(statements)('%s binds every value and inlines none', (_name, { text, values }) => {
    expect(placeholders(text)).toEqual(values.map((_v, i) => i + 1));
    for (const v of [DATASET, ROUND, ANNOTATOR, TOKEN, 'blurry', '1700000000000000']) {
      expect(text).not.toContain(v);
    }
  });

  it('pages the queue after a cursor only when one is given', () => {
    expect(queries.queuePage(DATASET, 51).text).not.toContain('r.t < $3');
    expect(queries.queuePage(DATASET, 51, { t: '1', r: ROUND, k: 7 }).values).toEqual([
      DATASET,
      51,
      '1',
      ROUND,
      7,
    ]);
  });

  it('claims slots with SKIP LOCKED, so claimers pass over each other', () => {
    expect(slots.freeSlots(DATASET, ANNOTATOR, 1).text).toMatch(/FOR UPDATE OF s SKIP LOCKED/);
  });
});

describe('mostFrequent', () => {
  it('picks the class most annotators gave, with its count', () => {
    expect(mostFrequent([2, 1, 2])).toEqual({ classIndex: 2, count: 2 });
  });

  it('reports a tie at the top as no answer', () => {
    expect(mostFrequent([0, 1])).toBeNull();
    expect(mostFrequent([0, 0, 1, 1, 2])).toBeNull();
  });

  it('is not fooled by a tie that a later class outnumbers', () => {
    expect(mostFrequent([1, 2, 3, 3])).toEqual({ classIndex: 3, count: 2 });
  });
});
