import { h, mount, pct } from './dom';
import type { Cleanup } from './main';
import type { Session } from './session';

/** The datasets the key may see, by name, with their pages. */
export async function renderHome(main: HTMLElement, s: Session): Promise<Cleanup> {
  const datasets = await s.client.datasets.list();
  mount(
    main,
    h('h1', null, 'Datasets'),
    datasets.length === 0
      ? h(
          'p',
          null,
          'No dataset is visible to this key yet.',
          s.viewer.role === 'ADMIN' ? [' ', h('a', { href: '#/admin' }, 'Create one')] : null,
        )
      : h(
          'table',
          { class: 'data' },
          h('caption', null, 'Pick a dataset to label or to watch'),
          h(
            'thead',
            null,
            h(
              'tr',
              null,
              h('th', { scope: 'col' }, 'Name'),
              h('th', { scope: 'col' }, 'Classes'),
              h('th', { scope: 'col' }, 'Budget used'),
              h('th', { scope: 'col' }, 'Pages'),
            ),
          ),
          h(
            'tbody',
            null,
            datasets.map((d) =>
              h(
                'tr',
                null,
                h('th', { scope: 'row' }, d.name),
                h('td', null, d.classes.length),
                h(
                  'td',
                  null,
                  d.budget.total === null
                    ? 'no limit'
                    : `${d.budget.spent} of ${d.budget.total} (${pct(d.budget.spent / Math.max(1, d.budget.total))})`,
                ),
                h(
                  'td',
                  null,
                  h('a', { href: `#/label/${d.id}`, 'aria-label': `Label ${d.name}` }, 'Label'),
                  ' · ',
                  h(
                    'a',
                    { href: `#/dashboard/${d.id}`, 'aria-label': `Dashboard of ${d.name}` },
                    'Dashboard',
                  ),
                ),
              ),
            ),
          ),
        ),
  );
  return () => undefined;
}
