import { marked, type Token } from 'marked';

const SAFE_URL = /^(https?:|mailto:|#|\/|\.\/|\.\.\/)/i;

marked.use({
  gfm: true,
  // Guidelines are written by the project's admins, but the page still never renders raw HTML
  // from them, nor javascript: links.
  renderer: {
    html: (token) => escapeHtml(token.text),
  },
  walkTokens: (token: Token) => {
    if ((token.type === 'link' || token.type === 'image') && !SAFE_URL.test(token.href.trim())) {
      token.href = '#';
    }
  },
});

function escapeHtml(s: string): string {
  return s.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

/** Renders Markdown into `el` (raw HTML shown as text, unsafe links neutralised). */
export function renderMarkdown(el: HTMLElement, source: string): void {
  el.innerHTML = marked.parse(source, { async: false });
  for (const a of el.querySelectorAll('a[href^="http"]')) {
    a.setAttribute('target', '_blank');
    a.setAttribute('rel', 'noopener noreferrer');
  }
}
