import { hasCurrentLabel } from '../../src/db/sql/conditions';
import { itemListing, itemById, takenExternalIds } from '../../src/db/sql/items.sql';
import {
  currentLabelsPage,
  labelListing,
  sourceRank,
  SOURCE_RANK_SQL,
  trainingLabelCounts,
  trainingLabelsPage,
} from '../../src/db/sql/labels.sql';
import { keysetCount, keysetRows } from '../../src/db/sql/pages.sql';
import { notify } from '../../src/db/sql/events.sql';
import { failTask } from '../../src/db/sql/tasks.sql';
import { roundListing } from '../../src/db/sql/rounds.sql';
import { streamListing } from '../../src/db/sql/streams.sql';
import { datasetListing } from '../../src/db/sql/datasets.sql';

const DATASET = '3f8e0a62-1b2c-4d5e-8f90-0123456789ab';
/** A value that must travel as a parameter, never as SQL text. */
const HOSTILE = "x'); DROP TABLE item; --";

describe('SQL families', () => {
  it('send every value as a parameter, never in the text', () => {
    const statements = [
      itemById(HOSTILE),
      takenExternalIds(DATASET, [HOSTILE]),
      failTask(DATASET, HOSTILE),
      notify('quarry', HOSTILE),
      keysetRows(itemListing(DATASET, { externalIds: [HOSTILE], split: HOSTILE }), { id: '5' }, 10),
      keysetRows(streamListing(DATASET), { id: DATASET, sortValue: HOSTILE }, 10),
      keysetRows(labelListing(DATASET, { source: HOSTILE, itemIds: ['1'] }), undefined, 10),
    ];
    for (const s of statements) {
      expect(s.text).not.toContain(HOSTILE);
      expect(s.text).not.toContain(DATASET);
      expect(JSON.stringify(s.values)).toContain(JSON.stringify(HOSTILE).slice(1, -1));
    }
  });

  it('number the placeholders of a listing page after its filters', () => {
    const listing = itemListing(DATASET, { split: 'POOL', labelled: false });
    const page = keysetRows(listing, { id: '41' }, 11);
    expect(page.text).toMatch(/dataset_id = \$1 AND split = \$2::item_split AND NOT EXISTS/);
    expect(page.text).toMatch(/AND id > \$3::bigint ORDER BY id LIMIT \$4$/);
    expect(page.values).toEqual([DATASET, 'POOL', '41', 11]);
  });

  it('page a sorted listing on its sort column then id, both in its direction', () => {
    const page = keysetRows(roundListing(DATASET), { id: DATASET, sortValue: '2026-01-01' }, 11);
    expect(page.text).toMatch(
      /WHERE dataset_id = \$1::uuid AND \(created_at, id\) < \(\$2::timestamptz, \$3::uuid\) ORDER BY created_at DESC, id DESC LIMIT \$4$/,
    );
    expect(page.text).toContain('(created_at)::text AS "_sortValue"');
    expect(page.values).toEqual([DATASET, '2026-01-01', DATASET, 11]);
    const first = keysetRows(datasetListing(null), undefined, 5);
    expect(first.text).toMatch(/WHERE TRUE ORDER BY name, id LIMIT \$1$/);
  });

  it('count a listing without the cursor and the limit, and leave the listing as it was', () => {
    const listing = itemListing(DATASET, { split: 'TEST' });
    keysetRows(listing, { id: '41' }, 11);
    const count = keysetCount(listing);
    expect(count.text).toBe(
      'SELECT count(*)::int AS n FROM item WHERE dataset_id = $1 AND split = $2::item_split',
    );
    expect(count.values).toEqual([DATASET, 'TEST']);
  });

  it('filter items on the one "current label" condition', () => {
    const labelled = itemListing(DATASET, { labelled: true }).where.clauses;
    const unlabelled = itemListing(DATASET, { labelled: false }).where.clauses;
    expect(labelled).toContain(hasCurrentLabel('item.id'));
    expect(unlabelled).toContain(`NOT ${hasCurrentLabel('item.id')}`);
  });

  it('list only current labels unless asked for history', () => {
    expect(labelListing(DATASET, {}).where.clauses).toContain('superseded_at IS NULL');
    expect(labelListing(DATASET, { current: false }).where.clauses).not.toContain(
      'superseded_at IS NULL',
    );
  });

  it('rank label sources HUMAN over IMPORT over MODEL, on the column named', () => {
    expect(SOURCE_RANK_SQL).toBe(
      `CASE source WHEN 'HUMAN' THEN 3 WHEN 'IMPORT' THEN 2 WHEN 'MODEL' THEN 1 ELSE 0 END`,
    );
    expect(sourceRank('l.source')).toMatch(/^CASE l\.source WHEN 'HUMAN' THEN 3/);
    expect(currentLabelsPage(DATASET, '0', 10).text).toContain(sourceRank('l.source'));
  });

  it('read training labels with the same label rule for counts and pages', () => {
    const counts = trainingLabelCounts(DATASET, ['HUMAN']).text;
    const page = trainingLabelsPage(DATASET, ['HUMAN'], '0', 100).text;
    const rule = (text: string) => text.slice(text.indexOf('FROM item i'), text.indexOf("'POOL'"));
    expect(rule(counts)).toBe(rule(page));
    expect(rule(counts)).toContain(SOURCE_RANK_SQL);
  });
});
