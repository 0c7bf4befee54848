import { QueueDepthDocument, type Claim, type Dataset } from '@quarry/client';
import { errorText, h, mount, notice, pct } from './dom';
import { followQueue, throttle } from './live';
import type { Cleanup } from './main';
import { renderMarkdown } from './markdown';
import { renderPayload } from './payload';
import type { Session } from './session';

/** A claim on screen or claimed ahead, with its lease end (ms since epoch). */
interface Held {
  claim: Claim;
  expiresAt: number;
  renewing: boolean;
}

type Mode = 'label' | 'skip' | 'change' | 'paused' | 'empty' | 'loading';

const DEFAULT_LEASE_SECONDS = 120;

/**
 * The labelling page: one item at a time, keyboard first. The next item is claimed ahead so an
 * answer moves on at once (the submit goes out in the background); leases are renewed at
 * half-time while held; a lost lease or a CONFLICT is explained and the page moves on.
 */
export async function renderLabel(
  main: HTMLElement,
  s: Session,
  datasetId: string,
): Promise<Cleanup> {
  const { client } = s;
  const params = new URLSearchParams(location.hash.split('?')[1] ?? '');
  const leaseSeconds = Math.min(
    3600,
    Math.max(2, Number(params.get('lease')) || DEFAULT_LEASE_SECONDS),
  );
  const dataset = await client.datasets.get(datasetId);
  const classes = dataset.classes;

  let mode: Mode = 'loading';
  let current: Held | null = null;
  let ahead: Promise<Held | null> | null = null;
  let last: { claim: Claim; value: string; expiresAt: number } | null = null;
  let answered = 0;
  let disposed = false;
  let filter = '';
  let queueLeft: number | null = null;
  let budgetLeft: number | null | undefined;

  // Layout: the item, its answers, the guidelines and the progress.
  const title = h('h1', null, `Label · ${dataset.name}`);
  const status = h('p', { class: 'lease', 'aria-live': 'off' });
  const itemBox = h('section', { class: 'item', 'aria-labelledby': 'item-title' });
  const answers = h('section', { class: 'answers', 'aria-label': 'Answer' });
  const progress = h('dl', { class: 'progress', 'aria-label': 'Progress' });
  const guide = h('div', { class: 'guidelines' });
  renderMarkdown(guide, dataset.guidelines || '_No guidelines for this dataset yet._');
  mount(
    main,
    h(
      'div',
      { class: 'label-page' },
      h('div', { class: 'work' }, title, status, itemBox, answers, keysHelp(classes.length > 10)),
      h(
        'aside',
        { 'aria-label': 'Progress and guidelines' },
        h('h2', null, 'Progress'),
        progress,
        h('details', { open: true }, h('summary', null, 'Guidelines'), guide),
      ),
    ),
  );

  const claimOne = async (): Promise<Held | null> => {
    const [claim] = await client.queue.claim(dataset.id, 1, { leaseSeconds });
    return claim ? { claim, expiresAt: Date.parse(claim.expiresAt), renewing: false } : null;
  };
  const claimAhead = () => {
    ahead = claimOne().catch((e: unknown) => {
      if (!disposed) notice(`Could not claim the next item: ${errorText(e)}`, 'error');
      return null;
    });
  };

  /** Shows the next item: the one claimed ahead, else a fresh claim; then claims ahead again. */
  const advance = async () => {
    mode = 'loading';
    let next = ahead ? await ahead : null;
    ahead = null;
    if (!next || next.expiresAt <= Date.now()) {
      if (next) void client.queue.release(next.claim).catch(() => undefined);
      try {
        next = await claimOne();
      } catch (e) {
        notice(`Could not claim an item: ${errorText(e)}`, 'error');
        next = null;
      }
    }
    if (disposed) {
      if (next) void client.queue.release(next.claim).catch(() => undefined);
      return;
    }
    current = next;
    mode = current ? 'label' : 'empty';
    filter = '';
    render();
    if (current) claimAhead();
  };

  /** The lease of `held` was lost (CONFLICT): say so, and move on when it is the item on screen. */
  const lost = (held: Held, why: string) => {
    notice(`${why} Your place is kept: moving on to the next item.`, 'error');
    if (held === current) {
      current = null;
      void advance();
    }
  };

  const answer = (value: string) => {
    const held = current;
    if (!held || mode !== 'label') return;
    current = null;
    answered++;
    last = { claim: held.claim, value, expiresAt: held.expiresAt };
    client.queue.submit(held.claim, value).then(
      () => undefined,
      (e: unknown) => {
        answered--;
        if (last?.claim === held.claim) last = null;
        renderProgress();
        const code = (e as { code?: string }).code;
        notice(
          code === 'CONFLICT'
            ? `Your answer "${value}" to item ${held.claim.query.item.externalId} was not recorded: its lease ended and someone else took it.`
            : `Your answer to item ${held.claim.query.item.externalId} failed: ${errorText(e)}`,
          'error',
        );
      },
    );
    void advance();
  };

  const changeLast = (value: string) => {
    const prev = last;
    if (!prev) return;
    client.queue.changeAnswer(prev.claim, value).then(
      () => {
        prev.value = value;
        notice(`Changed the answer to item ${prev.claim.query.item.externalId} to "${value}".`);
      },
      (e: unknown) => notice(`Could not change the answer: ${errorText(e)}`, 'error'),
    );
    mode = current ? 'label' : 'empty';
    render();
  };

  const skip = (reason: string) => {
    const held = current;
    if (!held) return;
    current = null;
    client.queue.skip(held.claim, reason || undefined).then(
      () => notice(`Skipped item ${held.claim.query.item.externalId}.`),
      (e: unknown) => notice(`Skip failed: ${errorText(e)}`, 'error'),
    );
    void advance();
  };

  /** Esc: gives the item on screen and the one claimed ahead back to the queue, and pauses. */
  const releaseAll = async () => {
    const held = current;
    current = null;
    const next = ahead;
    ahead = null;
    mode = 'paused';
    render();
    const gone = [held, next ? await next : null].filter((x): x is Held => x !== null);
    await Promise.all(gone.map((g) => client.queue.release(g.claim).catch(() => undefined)));
    if (held) notice(`Released item ${held.claim.query.item.externalId} back to the queue.`);
  };

  // Leases: renewed at half-time while on screen or claimed ahead; the countdown shows.
  const tick = () => {
    const now = Date.now();
    const renew = (held: Held) => {
      if (held.renewing || held.expiresAt - now > (leaseSeconds * 1000) / 2) return;
      held.renewing = true;
      client.queue.renew(held.claim, leaseSeconds).then(
        (expiresAt) => {
          held.expiresAt = Date.parse(expiresAt);
          held.renewing = false;
        },
        (e: unknown) => {
          held.renewing = false;
          const code = (e as { code?: string }).code;
          if (code === 'CONFLICT' || code === 'FORBIDDEN') {
            lost(
              held,
              `Item ${held.claim.query.item.externalId} was lost: its lease ended and someone else took it.`,
            );
          }
        },
      );
    };
    if (current) renew(current);
    void ahead?.then((a) => a && !disposed && renew(a));
    renderLease();
  };
  const timer = setInterval(tick, 1000);

  const renderLease = () => {
    if (mode === 'change' && last) {
      const left = Math.max(0, Math.round((last.expiresAt - Date.now()) / 1000));
      status.textContent = `Changing your answer to item ${last.claim.query.item.externalId}: ${left} s left to change it.`;
      return;
    }
    if (!current) {
      status.textContent = '';
      return;
    }
    const left = Math.round((current.expiresAt - Date.now()) / 1000);
    status.textContent =
      left > 0
        ? `Lease: ${left} s left (renewed while this item is open)`
        : 'Lease expired: renewing… your answer may be refused if someone else took the item.';
    status.classList.toggle('warn', left <= 10);
  };

  const renderProgress = () => {
    const budget =
      budgetLeft === undefined ? '…' : budgetLeft === null ? 'no limit' : String(budgetLeft);
    mount(
      progress,
      h('dt', null, 'My answers this session'),
      h('dd', { 'data-testid': 'answered' }, answered),
      h('dt', null, 'Queue left'),
      h('dd', { 'data-testid': 'queue-left' }, queueLeft ?? '…'),
      h('dt', null, 'Budget left'),
      h('dd', { 'data-testid': 'budget-left' }, budget),
    );
  };
  const refreshProgress = async () => {
    try {
      const r = await client.request(QueueDepthDocument, { datasetId: dataset.id });
      queueLeft = r.labelQueue.totalCount;
      budgetLeft = r.dataset.budget.remaining;
      renderProgress();
    } catch {
      // The next event retries.
    }
  };
  const laterProgress = throttle(() => void refreshProgress(), 1000);

  const matching = () => {
    const f = filter.toLowerCase();
    return f ? classes.filter((c) => c.toLowerCase().includes(f)) : classes;
  };

  const render = () => {
    renderLease();
    renderProgress();
    if (mode === 'paused') {
      mount(
        itemBox,
        h('h2', { id: 'item-title' }, 'Paused'),
        h('p', null, 'Your items went back to the queue. Press Space (or the button) to go on.'),
      );
      mount(
        answers,
        h(
          'button',
          { type: 'button', class: 'primary', onclick: () => void advance() },
          'Go on labelling',
        ),
      );
      return;
    }
    if (mode === 'empty') {
      mount(
        itemBox,
        h('h2', { id: 'item-title' }, 'Nothing to label right now'),
        h(
          'p',
          null,
          'New work appears here by itself when a round opens or items come back to the queue.',
        ),
      );
      mount(answers);
      return;
    }
    if (mode === 'loading' || (!current && mode !== 'change')) {
      mount(itemBox, h('h2', { id: 'item-title' }, 'Loading…'));
      return;
    }
    const shown = mode === 'change' && last ? last.claim : current!.claim;
    const q = shown.query;
    const pre = q.preLabel;
    mount(
      itemBox,
      h(
        'h2',
        { id: 'item-title', 'data-external-id': q.item.externalId },
        `Item ${q.item.externalId}`,
      ),
      renderPayload(
        q.item.payload,
        dataset as Pick<Dataset, 'payloadField' | 'payloadKind'>,
        `Item ${q.item.externalId}`,
      ),
      pre
        ? h(
            'p',
            { class: 'suggestion' },
            h('strong', null, 'Model suggests: '),
            h('span', { class: 'suggested-value' }, pre.value),
            ` (confidence ${pct(pre.confidence)}, model v${pre.modelVersion ?? '?'})`,
            mode === 'label' ? ' — Enter accepts' : null,
          )
        : h('p', { class: 'suggestion none' }, 'No model suggestion for this item.'),
    );
    if (mode === 'skip') {
      const reason = h('input', {
        type: 'text',
        id: 'skip-reason',
        maxlength: 1000,
        placeholder: 'optional',
      });
      const form = h(
        'form',
        {
          class: 'skip-form',
          onsubmit: (ev: Event) => {
            ev.preventDefault();
            skip(reason.value.trim());
          },
        },
        h('label', { for: 'skip-reason' }, 'Why skip? (Enter skips, Esc goes back)'),
        reason,
        h('button', { type: 'submit' }, 'Skip item'),
      );
      mount(answers, form);
      reason.focus();
      return;
    }
    const typeAhead =
      classes.length > 10
        ? h('input', {
            type: 'search',
            id: 'class-filter',
            value: filter,
            placeholder: 'Type to find a class (/)',
            'aria-label': 'Find a class',
            oninput: (ev: Event) => {
              filter = (ev.target as HTMLInputElement).value;
              renderButtons();
            },
          })
        : null;
    const buttons = h('div', { class: 'classes', role: 'group', 'aria-label': 'Classes' });
    const renderButtons = () => {
      const list = matching();
      mount(
        buttons,
        list.slice(0, 60).map((c, i) =>
          h(
            'button',
            {
              type: 'button',
              class: pre?.value === c ? 'class suggested' : 'class',
              'data-class': c,
              'aria-keyshortcuts': keyFor(c, i) ?? undefined,
              onclick: () => (mode === 'change' ? changeLast(c) : answer(c)),
            },
            keyFor(c, i) ? h('kbd', null, keyFor(c, i)!) : null,
            ' ',
            c,
          ),
        ),
        list.length > 60 ? h('p', null, `${list.length - 60} more: type to narrow.`) : null,
      );
    };
    const keyFor = (c: string, i: number): string | null => {
      const list = matching();
      if (list.every((x) => /^\d$/.test(x))) return c;
      return i < 10 ? String((i + 1) % 10) : null;
    };
    renderButtons();
    mount(
      answers,
      mode === 'change' && last
        ? h(
            'p',
            { class: 'changing' },
            `Your answer was "${last.value}". Pick the new one (Esc keeps it).`,
          )
        : null,
      typeAhead,
      buttons,
      mode === 'label'
        ? h(
            'div',
            { class: 'actions' },
            h(
              'button',
              { type: 'button', onclick: () => ((mode = 'skip'), render()) },
              h('kbd', null, 'S'),
              ' Skip',
            ),
            h(
              'button',
              { type: 'button', onclick: () => void releaseAll() },
              h('kbd', null, 'Esc'),
              ' Release',
            ),
            h(
              'button',
              { type: 'button', disabled: !last, onclick: () => startChange() },
              h('kbd', null, 'U'),
              ' Change last answer',
            ),
          )
        : null,
    );
  };

  const startChange = () => {
    if (!last) return notice('There is no answer to change yet.');
    if (last.expiresAt <= Date.now())
      return notice("The last answer's lease has ended: it can no longer be changed.", 'error');
    mode = 'change';
    filter = '';
    render();
  };

  /** The class a key picks: a class named by the key, else the key's position (1..9, 0 = 10th). */
  const classForKey = (key: string): string | undefined => {
    const list = matching();
    if (list.includes(key)) return key;
    if (!/^\d$/.test(key)) return undefined;
    return list[(Number(key) + 9) % 10];
  };

  const onKey = (ev: KeyboardEvent) => {
    if (ev.ctrlKey || ev.metaKey || ev.altKey) return;
    const target = ev.target as HTMLElement;
    const typing = target.tagName === 'INPUT' || target.tagName === 'TEXTAREA';
    if (mode === 'skip') {
      if (ev.key === 'Escape') {
        ev.preventDefault();
        mode = 'label';
        render();
      }
      return;
    }
    if (mode === 'paused') {
      if (ev.key === ' ' || ev.key === 'Enter') {
        if (target.tagName === 'BUTTON') return;
        ev.preventDefault();
        void advance();
      }
      return;
    }
    if (mode !== 'label' && mode !== 'change') return;
    if (typing && target.id === 'class-filter') {
      if (ev.key === 'Enter') {
        ev.preventDefault();
        const first = matching()[0];
        if (first) (mode === 'change' ? changeLast : answer)(first);
      } else if (ev.key === 'Escape') {
        ev.preventDefault();
        filter = '';
        render();
      }
      return;
    }
    if (typing) return;
    if (ev.key === 'Escape') {
      ev.preventDefault();
      if (mode === 'change') {
        mode = current ? 'label' : 'empty';
        render();
      } else void releaseAll();
      return;
    }
    if (ev.key === 'Enter' && target.tagName !== 'BUTTON' && target.tagName !== 'A') {
      const shown = mode === 'change' ? last?.claim : current?.claim;
      const pre = shown?.query.preLabel?.value;
      if (pre) {
        ev.preventDefault();
        (mode === 'change' ? changeLast : answer)(pre);
      }
      return;
    }
    if (ev.key === '/' && classes.length > 10) {
      ev.preventDefault();
      document.getElementById('class-filter')?.focus();
      return;
    }
    const picked = classForKey(ev.key);
    if (picked !== undefined) {
      ev.preventDefault();
      (mode === 'change' ? changeLast : answer)(picked);
      return;
    }
    if (mode === 'label' && (ev.key === 's' || ev.key === 'S')) {
      ev.preventDefault();
      mode = 'skip';
      render();
    } else if (mode === 'label' && (ev.key === 'u' || ev.key === 'U')) {
      ev.preventDefault();
      startChange();
    } else if (classes.length > 10 && /^\S$/.test(ev.key) && !/^[suSU]$/.test(ev.key)) {
      // Type-ahead: any other letter starts a search among the classes.
      ev.preventDefault();
      filter = ev.key;
      render();
      const input = document.getElementById('class-filter') as HTMLInputElement | null;
      input?.focus();
      input?.setSelectionRange(filter.length, filter.length);
    }
  };
  document.addEventListener('keydown', onKey);

  // Live: progress follows the queue; an empty page wakes up when work arrives.
  const stopQueue = followQueue(
    client,
    dataset.id,
    (e) => {
      laterProgress();
      if (
        mode === 'empty' &&
        (e.kind === 'ROUND_OPENED' || e.kind === 'RELEASED' || e.kind === 'SKIPPED')
      )
        void advance();
    },
    () => {
      laterProgress();
      if (mode === 'empty') void advance();
    },
  );
  // Expired leases return items silently: an empty page looks again now and then.
  const poll = setInterval(() => {
    if (mode === 'empty') void advance();
  }, 15_000);

  render();
  void refreshProgress();
  await advance();
  main.focus();

  return async () => {
    disposed = true;
    clearInterval(timer);
    clearInterval(poll);
    stopQueue();
    document.removeEventListener('keydown', onKey);
    const held = [current, ahead ? await ahead : null].filter((x): x is Held => x !== null);
    current = null;
    ahead = null;
    await Promise.all(held.map((x) => client.queue.release(x.claim).catch(() => undefined)));
  };
}

function keysHelp(typeAhead: boolean): HTMLElement {
  const row = (k: string, what: string) => h('li', null, h('kbd', null, k), ' ', what);
  return h(
    'details',
    { class: 'keys' },
    h('summary', null, 'Keyboard'),
    h(
      'ul',
      null,
      row('1–9, 0', 'choose a class (a class named by the digit first)'),
      typeAhead ? row('/ or a letter', 'find a class by name; Enter picks the first match') : null,
      row('Enter', "accept the model's suggestion"),
      row('S', 'skip (with an optional reason)'),
      row('Esc', 'release the item and pause'),
      row('U', 'change the answer just given (while its lease lasts)'),
    ),
  );
}
